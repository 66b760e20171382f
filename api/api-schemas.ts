import { z } from 'zod';
import { consentChangeRequestSchema } from '../domain/consent.js';
import { emailSchema } from '../domain/email.js';
import { erasureRequestSchema } from '../domain/erasure.js';
import { operatorCloseSchema, operatorRetrySchema } from '../domain/operator.js';
import { requestIdSchema } from '../hub-client/find-by-request-id.js';

/**
 * The API's bodies are the CLI's schemas, derived rather than copied, so both front doors accept exactly the
 * same requests. `.strict()` names an unknown field instead of silently dropping it (a misspelt
 * `gaClientId` would otherwise erase less than was asked).
 */
export const erasureBodySchema = erasureRequestSchema
  .extend({
    // The API fills these: who asked defaults to the API key, and when to the moment it arrived.
    requestedBy: erasureRequestSchema.shape.requestedBy.optional(),
    requestedAt: erasureRequestSchema.shape.requestedAt.optional(),
  })
  .strict();

export const consentEventBodySchema = consentChangeRequestSchema.strict();

/** The email travels in a POST body, not a query string, so it never lands in proxies' access logs. */
export const subjectStatusBodySchema = z
  .object({
    email: emailSchema,
    /** Read every tool now and mark each field that differs from what the decisions in force call for. */
    verify: z.boolean().optional(),
  })
  .strict();

export const erasureParamsSchema = z.object({ id: requestIdSchema });
export const requestParamsSchema = z.object({ id: requestIdSchema });

/** The operator is the API key that calls; the body names only what to act on. */
export const operatorRetryBodySchema = operatorRetrySchema.pick({ system: true }).strict();
export const operatorCloseBodySchema = operatorCloseSchema.pick({ system: true, reason: true }).strict();

export const erasureAcceptedSchema = z.object({
  requestId: z.uuid().describe('The erasure request id: follow it at GET /v1/erasures/{id}.'),
  subjectKey: z.string().describe('The pseudonymous key of the person (HMAC of the email).'),
});

export const consentAcceptedSchema = z.object({
  eventId: z.uuid(),
  subjectKey: z.string(),
});

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
