import { z } from 'zod';

/** The third-party tools consent-hub carries requests to. */
export const systemNames = ['dynamics', 'mailchimp', 'google'] as const;
export const systemNameSchema = z.enum(systemNames, {
  error: () => `must be one of: ${systemNames.join(', ')}`,
});
export type SystemName = z.infer<typeof systemNameSchema>;
