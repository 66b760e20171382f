import { z } from 'zod';
import { accessExportFormatSchema, accessRequestSchema } from '../domain/access.js';
import { addressChangeResolutions } from '../domain/address-change-refusal.js';
import { consentChangeRequestSchema } from '../domain/consent.js';
import { consentBatchLimit } from '../domain/consent-batch.js';
import { emailSchema } from '../domain/email.js';
import { erasureRequestSchema } from '../domain/erasure.js';
import { operatorCloseSchema, operatorRetrySchema } from '../domain/operator.js';
import { deadlineExtensionSchema, dueWithinSchema, requestKindSchema } from '../domain/request-deadline.js';
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
export const consentBatchParamsSchema = z.object({ id: z.uuid({ error: 'must be a batch id (a UUID)' }) });

/** The operator is the API key that calls; the body names only what to act on. */
export const operatorRetryBodySchema = operatorRetrySchema.pick({ system: true }).strict();
export const operatorCloseBodySchema = operatorCloseSchema.pick({ system: true, reason: true }).strict();

const receivedAtDoc = z
  .string()
  .describe('When the request was received: the given receivedAt, or when it arrived');
const dueAtDoc = z
  .string()
  .describe('When it must be answered: receivedAt + 1 calendar month (GDPR Art. 12(3))');

/** A request by an address rectifications re-keyed: the key it names and the re-keys followed (keys only). */
const requestedUnderSchema = z.object({
  subjectKey: z.string(),
  rekeys: z.array(
    z.object({ from: z.string(), to: z.string(), rectificationRequestId: z.string(), at: z.string() }),
  ),
  notFollowed: z
    .object({ from: z.string(), to: z.string(), rectificationRequestId: z.string(), at: z.string() })
    .optional(),
  note: z.string().optional(),
});

export const erasureAcceptedSchema = z.object({
  requestId: z.uuid().describe('The erasure request id: follow it at GET /v1/erasures/{id}.'),
  subjectKey: z.string().describe('The pseudonymous key of the person (HMAC of the email).'),
  joined: z
    .boolean()
    .describe(
      "True when an erasure of this person was already running: this request was merged into it (its GA ids are erased, its reason and requester listed in the receipt's joinedRequests) and requestId is the running one's.",
    ),
  joinedLegacyKey: z
    .string()
    .optional()
    .describe(
      'Set when the erasure joined runs under the key an older version gave another spelling of the address (started before an upgrade): that key, which subjectKey is then too.',
    ),
  receivedAt: receivedAtDoc,
  dueAt: dueAtDoc,
  erasureDeadline: z
    .object({ receivedAt: z.string(), dueAt: z.string() })
    .optional()
    .describe(
      'When joined: the deadline of the running erasure this request joined, as GET /v1/requests lists it (set by the earliest request it carries); receivedAt and dueAt above are this request’s own',
    ),
  requestedUnder: requestedUnderSchema
    .optional()
    .describe(
      'Set when the address named was re-keyed by rectifications: the key it names and the re-keys followed; subjectKey is then the person’s key now, whose address is erased',
    ),
  movedRecords: z
    .array(
      z.object({
        subjectKey: z.string(),
        rectificationRequestId: z.string(),
        systems: z.array(z.string()),
        erasureRequestId: z.string().optional(),
        note: z.string().optional(),
      }),
    )
    .optional()
    .describe(
      'Records a half-done rectification moved between this address and another, and the address the request named when it followed a re-key (what vendors still hold there): the erasure of that other address started with this one (its request id)',
    ),
});

export const consentAcceptedSchema = z.object({
  eventId: z.uuid(),
  subjectKey: z.string(),
  receivedAt: receivedAtDoc,
  dueAt: dueAtDoc,
  mergedLegacyKey: z
    .string()
    .optional()
    .describe(
      "Set when the person's consent workflow still ran under the key an older version gave another spelling of the address: that key. It hands its pending work to subjectKey's workflow and ends.",
    ),
});

/**
 * POST /v1/consent-events/batch as parsed: the list only. Each item is then parsed on its own with
 * consentEventBodySchema, so one bad item is refused with its own problem and the others go ahead.
 */
export const consentBatchBodySchema = z
  .object({
    items: z
      .array(z.unknown())
      .min(1, { error: 'must hold at least one consent event' })
      .max(consentBatchLimit, { error: `must hold at most ${consentBatchLimit} consent events` }),
  })
  .strict();

/** The same body as documented: each item is a ConsentEvent. */
export const consentBatchDocSchema = z
  .object({ items: z.array(consentEventBodySchema).min(1).max(consentBatchLimit) })
  .strict();

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export const consentBatchAcceptedSchema = z
  .object({
    batchId: z.uuid(),
    workflowId: z.string().optional().describe('Absent when every item was refused: nothing was started'),
    accepted: z.array(
      consentAcceptedSchema
        .extend({ index: z.number().int().min(0).describe("The item's position in `items`") })
        .strict(),
    ),
    refused: z.array(
      z
        .object({
          index: z.number().int().min(0),
          problem: problemSchema.describe('Why this item was refused; nothing of it was recorded'),
        })
        .strict(),
    ),
  })
  .strict();

/** POST /v1/requests/{id}/extension: the operator is the API key that calls. */
export const deadlineExtensionBodySchema = deadlineExtensionSchema
  .pick({ months: true, reason: true })
  .extend({ months: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2 (months)' }) })
  .strict();

/** GET /v1/requests?overdue=true&dueWithin=7d&kind=erasure */
export const requestListQuerySchema = z
  .object({
    overdue: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .optional()
      .transform((value) => value === 'true'),
    dueWithin: dueWithinSchema.optional(),
    kind: requestKindSchema.optional(),
  })
  .strict()
  .refine((query) => !(query.overdue && query.dueWithin !== undefined), {
    error: 'give overdue=true or dueWithin, not both',
    path: ['dueWithin'],
  });

/** POST /v1/access-requests: the CLI's `access` request; the API fills who asked and when. */
export const accessBodySchema = accessRequestSchema
  .extend({
    requestedBy: accessRequestSchema.shape.requestedBy.optional(),
    requestedAt: accessRequestSchema.shape.requestedAt.optional(),
  })
  .strict();

export const accessAcceptedSchema = z.object({
  requestId: z.uuid().describe('The access request id: follow it at GET /v1/access-requests/{id}.'),
  subjectKey: z.string().describe('The pseudonymous key of the person (HMAC of the email).'),
  status: z.literal('running'),
  receivedAt: receivedAtDoc,
  dueAt: dueAtDoc,
  requestedUnder: requestedUnderSchema
    .optional()
    .describe(
      'Set when the address named was re-keyed by rectifications: the key it names and the re-keys followed; subjectKey is then the person’s key now, whose records are gathered',
    ),
});

/** GET /v1/access-requests/{id}/export?format=json|html */
export const accessExportQuerySchema = z
  .object({ format: accessExportFormatSchema.default('json') })
  .strict();

/** `GET /v1/address-change-refusals`: `open=true` for those waiting for an operator, or one person's. */
export const addressChangeRefusalsQuerySchema = z
  .object({
    open: z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .optional()
      .transform((value) => value === 'true'),
    subjectKey: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { error: 'must be a subject key (64 hex digits)' })
      .optional(),
  })
  .strict();

/** A refused address change's id: the webhook's `mailchimp-webhook:<hex>` or a rectification's UUID. */
export const addressChangeRefusalParamsSchema = z
  .object({
    id: z.string().regex(/^(mailchimp-webhook:[0-9a-f]{64}|[0-9a-f-]{36})$/, {
      error: 'is not a refused address change id',
    }),
  })
  .strict();

/** `POST /v1/address-change-refusals/{id}/acknowledge`. */
export const addressChangeAcknowledgementSchema = z
  .object({ resolution: z.enum(addressChangeResolutions) })
  .strict();
