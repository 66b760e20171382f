import { z } from 'zod';

/**
 * GA4 property ids arrive as `properties/400000001` (the Admin API's resource name) or as bare numbers
 * (the User Deletion API's `propertyId`). Everything inside the connector uses the bare number, and turns
 * it into the resource name where Google wants that.
 */
export function normalisePropertyId(raw: string): string | undefined {
  const match = /^(?:properties\/)?(\d+)$/.exec(raw.trim());
  return match?.[1];
}

export function propertyResourceName(propertyId: string): string {
  return `properties/${propertyId}`;
}

/** A bare GA4 property number, accepting either written form. */
export const propertyIdSchema = z.string().transform((raw, context) => {
  const id = normalisePropertyId(raw);
  if (id === undefined) {
    context.addIssue({
      code: 'custom',
      message: 'not a GA4 property id (write properties/123456789 or 123456789)',
    });
    return z.NEVER;
  }
  return id;
});
