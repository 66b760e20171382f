import type { ConnectorSet } from '../../activities/create-activities.js';
import type { FindResult } from '../../connectors/connector.js';
import { NonRetryableVendorError } from '../../connectors/connector-errors.js';

/** What a find answers for a person a system does not hold. */
export const noRecords: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };

/**
 * A stand-in for a system that holds no one: find answers noRecords, erase and applyConsent answer
 * `applyOutcome` ('not_found' by default; Google's consent writes answer 'not_applicable') with no records,
 * readConsent no purposes. Spread it and override the call a test makes fail.
 */
export function emptySystem(
  applyOutcome: 'not_found' | 'not_applicable' = 'not_found',
): NonNullable<ConnectorSet['dynamics']> {
  return {
    find: async () => noRecords,
    erase: async () => ({ outcome: 'not_found', records: [] }),
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: applyOutcome, records: [] }),
  };
}

/**
 * A Mailchimp that holds no one (emptySystem) and refuses every find for good: a NonRetryableVendorError of
 * operation `find` with `refusal`'s HTTP status, vendor code and reason, as the connector's mapping throws it.
 */
export function mailchimpRefusingFind(refusal: {
  status: number;
  vendorCode?: string;
  reason: string;
}): NonNullable<ConnectorSet['mailchimp']> {
  return {
    ...emptySystem(),
    find: async () => {
      throw new NonRetryableVendorError({ system: 'mailchimp', operation: 'find', ...refusal });
    },
  };
}
