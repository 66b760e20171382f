import { z } from 'zod';
import { erasureRecordResults, notDeletedReasons, systemErasureStatuses } from '../domain/erasure.js';
import { erasureReasonCodes } from '../domain/free-text.js';
import { holdReasonCodes, releaseReasonCodes, systemRestrictionStatuses } from '../domain/hold.js';
import { purposes } from '../domain/purposes.js';
import { requestKinds } from '../domain/request-deadline.js';
import { systemNames } from '../domain/systems.js';

/**
 * The API's answers as OpenAPI documents them. The bodies are the domain's views (domain/erasure.ts,
 * domain/consent.ts, domain/operator.ts); these schemas describe them for clients, and the API tests parse
 * real answers with them (strictly), so a field added to a view without being documented here fails a test.
 */
const system = z.enum(systemNames);
const isoTime = z.string().describe('ISO 8601 date-time (UTC)');
const perSystem = <T extends z.ZodType>(value: T) =>
  z.object({ dynamics: value, mailchimp: value, google: value }).strict();
const somePerSystem = <T extends z.ZodType>(value: T) =>
  z.object({ dynamics: value.optional(), mailchimp: value.optional(), google: value.optional() }).strict();

export const systemFailureSchema = z
  .object({
    type: z.string().describe('RetriesOutlastedDeadline, NonRetryableVendorError, SystemNotConfigured, ...'),
    reason: z.string().describe("The vendor's reason, with any address scrubbed"),
    status: z.number().int().optional().describe("The vendor's HTTP status"),
    vendorCode: z.string().optional(),
  })
  .strict();

export const retryStateSchema = z
  .object({
    activity: z.string().describe('The activity being retried, such as eraseInSystem'),
    attempt: z.number().int().min(1),
    lastFailure: z
      .object({ reason: z.string(), status: z.number().int().optional(), at: isoTime.optional() })
      .strict()
      .optional(),
    nextRetryAt: isoTime.optional(),
  })
  .strict()
  .describe("What the worker is retrying now, from Temporal's pending activity");

export const operatorLogEntrySchema = z
  .object({
    action: z.enum(['retry', 'close']),
    system,
    operator: z.string().describe('The operator id, or the API key that acted'),
    at: isoTime,
    reason: z.string().optional().describe("The operator's reason, for a close"),
  })
  .strict();

const erasureRecordSchema = z
  .object({
    kind: z.string(),
    id: z.string(),
    container: z.string().optional(),
    result: z
      .enum(erasureRecordResults)
      .describe('`not_deleted` only in a system that ended failed or closed by an operator'),
    reason: z.enum(notDeletedReasons).optional().describe('Why a `not_deleted` record was not deleted'),
    httpStatus: z.number().int().optional().describe("The vendor's HTTP status when it refused the deletion"),
    auditHistoryRemoved: z
      .boolean()
      .optional()
      .describe("Dynamics: whether the record's audit history was deleted too"),
    vendorTime: isoTime.optional(),
  })
  .strict();

const unusableIdentifierSchema = z
  .object({
    kind: z.enum(['gaClientId', 'gaUserId']),
    source: z.string().describe('`request`, or the system it was harvested from'),
    reason: z.string(),
    count: z.number().int().min(0),
  })
  .strict();

export const systemErasureStateSchema = z
  .object({
    status: z.enum(systemErasureStatuses),
    records: z.array(erasureRecordSchema).describe('The records touched, up to the inline limit'),
    recordCount: z.number().int().min(0).optional().describe('How many records were touched in all'),
    recordsDigest: z.string().optional().describe('Keyed digest of the full record list in the ledger'),
    recordsTruncated: z.boolean().optional().describe('True when `records` lists fewer than `recordCount`'),
    resumesAt: isoTime.optional().describe('While waiting_for_vendor: when the next attempt starts'),
    unusableIdentifiers: z.array(unusableIdentifierSchema).optional(),
    deletedWithRecords: z
      .record(z.string(), z.number().int().min(0))
      .optional()
      .describe(
        'Records the system deleted with the erased ones, by kind, counted before the first delete (Dynamics: activities regarding a deleted contact or lead, which Dataverse deletes with it: parental relationship, Delete: Cascade)',
      ),
    failure: systemFailureSchema.optional(),
    closedReason: z.string().optional(),
    attempts: z.number().int().min(0),
    completedAt: isoTime.optional(),
    retrying: retryStateSchema.optional(),
  })
  .strict();

const restrictionFields = z
  .object({
    hold: z.object({ reason: z.enum(holdReasonCodes), placedAt: isoTime }).strict(),
    restrictedAt: isoTime.optional().describe('When every system was restricted (absent while restricting)'),
    outcome: z.enum(['restricted', 'restricted_with_failures']).optional(),
    systems: perSystem(
      z
        .object({
          status: z.enum(systemRestrictionStatuses),
          records: z.array(
            z
              .object({
                kind: z.string(),
                id: z.string(),
                container: z.string().optional(),
                result: z.enum(['restricted', 'already_restricted', 'gone']),
                actions: z
                  .array(z.string())
                  .describe('What was set, by name: donotemail, statecode, tag:restricted'),
              })
              .strict(),
          ),
          recordCount: z.number().int().min(0).optional(),
          attempts: z.number().int().min(0),
          note: z.string().optional(),
          failure: systemFailureSchema.optional(),
          closedReason: z.string().optional(),
          completedAt: isoTime.optional(),
          resumesAt: isoTime.optional(),
        })
        .strict(),
    ),
    released: z
      .object({ at: isoTime, by: z.string(), reason: z.enum(releaseReasonCodes) })
      .strict()
      .optional()
      .describe('Set once the hold was released and the erasure went on to delete'),
    arrivedDuringErasure: z
      .object({
        noticedAt: isoTime.describe('When the running erasure learned of the hold'),
        deletedBefore: somePerSystem(
          z
            .object({
              recordCount: z.number().int().min(0),
              records: z.array(erasureRecordSchema),
              recordsTruncated: z.boolean(),
            })
            .strict(),
        ).describe('Per system that had deleted or submitted anything before the hold: those records'),
      })
      .strict()
      .optional()
      .describe(
        'The hold was placed while the erasure was deleting: what it had deleted by then; the systems not yet erased were restricted instead (`erased_before_hold`: nothing was left)',
      ),
  })
  .strict();

const restrictionSchema = restrictionFields
  .extend({
    earlierRestrictions: z
      .array(restrictionFields)
      .optional()
      .describe(
        'The restrictions of holds placed and released earlier in the same erasure, oldest first: each kept whole',
      ),
  })
  .strict()
  .describe('The person was on legal hold: what was restricted instead of deleted, and the release');

const addressChangesSchema = z
  .array(
    z
      .object({
        source: z.string().describe('Who reported the change: `mailchimp:upemail`'),
        changedAt: isoTime,
        newSubjectKey: z.string(),
      })
      .strict(),
  )
  .optional()
  .describe(
    'Address changes a vendor reported while the erasure ran (subject keys only): the erasure looked for the records under each new address too',
  );

const requestedUnderSchema = z
  .object({
    subjectKey: z.string().describe('The subject key of the address the request named'),
    rekeys: z
      .array(
        z
          .object({
            from: z.string(),
            to: z.string(),
            rectificationRequestId: z.string(),
            at: isoTime,
          })
          .strict(),
      )
      .describe('The re-keys followed from it to the key the person has now, oldest first'),
    notFollowed: z
      .object({ from: z.string(), to: z.string(), rectificationRequestId: z.string(), at: isoTime })
      .strict()
      .optional()
      .describe(
        'A re-key not followed: its old key has had records of its own since (the address is someone else now), so the request acted on that key',
      ),
    note: z.string().optional(),
  })
  .strict()
  .describe(
    'The request named an earlier address of the person, which a rectification re-keyed: the erasure acted on the key the person has now',
  );

const movedRecordsSchema = z
  .array(
    z
      .object({
        subjectKey: z.string().describe('The subject key of the other address'),
        rectificationRequestId: z.string(),
        systems: z.array(z.string()),
        erasureRequestId: z.string().optional().describe('The erasure of the other address'),
        note: z.string().optional(),
      })
      .strict(),
  )
  .describe(
    'Records a half-done rectification moved between this address and another, and the address the request named when it followed a re-key (what vendors still hold there): the erasure of that other address started with this one',
  );

export const erasureReceiptSchema = z
  .object({
    requestId: z.uuid(),
    subjectKey: z.string(),
    reason: z.enum(erasureReasonCodes).or(z.string()),
    reasonNote: z.string().optional(),
    requestedBy: z.string(),
    requestedAt: isoTime,
    completedAt: isoTime,
    outcome: z.enum(['completed', 'completed_with_failures']),
    systems: perSystem(systemErasureStateSchema),
    operatorActions: z.array(operatorLogEntrySchema).optional(),
    reErasureOf: z.uuid().optional().describe('For a subject erased before: the first erasure’s request id'),
    joinedRequests: z
      .array(
        z
          .object({
            reason: z.string(),
            reasonNote: z.string().optional(),
            requestedBy: z.string(),
            requestedAt: isoTime,
            gaClientIdsAdded: z.number().int().min(0),
            gaUserIdsAdded: z.number().int().min(0),
            requestedUnder: requestedUnderSchema.optional(),
          })
          .strict(),
      )
      .optional()
      .describe('Requests for the same person merged into this erasure while it ran'),
    requestedUnder: requestedUnderSchema.optional(),
    movedRecords: movedRecordsSchema.optional(),
    followUpOf: z
      .uuid()
      .optional()
      .describe(
        'A follow-up erasure: the request id of the erasure whose receipt was being written when this one’s requests arrived',
      ),
    restriction: restrictionSchema.optional(),
    addressChanges: addressChangesSchema,
    holdAfterDeletes: z
      .object({ reason: z.string(), placedAt: isoTime, note: z.string() })
      .strict()
      .optional()
      .describe(
        'A legal hold placed once every system’s deletes had completed, before the receipt: nothing was left to restrict',
      ),
  })
  .strict();

export const erasureStatusSchema = z
  .object({
    requestId: z.uuid(),
    subjectKey: z.string(),
    status: z.enum(['running', 'needs_attention', 'on_hold', 'completed']),
    requestedAt: isoTime,
    systems: perSystem(systemErasureStateSchema),
    operatorActions: z.array(operatorLogEntrySchema).optional(),
    restriction: restrictionSchema.optional(),
    addressChanges: addressChangesSchema,
  })
  .strict();

/** GET /v1/erasures/{id}: the receipt once finished, the live status while it runs. */
export const erasureLookupSchema = z.discriminatedUnion('state', [
  z
    .object({
      state: z.literal('completed'),
      receipt: erasureReceiptSchema,
      followUps: z
        .array(z.uuid())
        .optional()
        .describe(
          'Follow-up erasures that carried out requests arriving while this receipt was written (their receipts name this one in followUpOf)',
        ),
    })
    .strict(),
  z.object({ state: z.literal('open'), status: erasureStatusSchema }).strict(),
]);

const consentOutcome = z.enum([
  'applied',
  'already',
  'not_found',
  'pending_confirmation',
  'not_applicable',
  'withheld',
  'failed',
  'closed_by_operator',
]);

const purposeDecisionSchema = z
  .object({
    eventId: z.string(),
    decision: z.enum(['granted', 'withdrawn']),
    occurredAt: isoTime,
    source: z.string(),
    hasEvidence: z.boolean().optional().describe('A grant with evidence may re-subscribe or create'),
    recordedAt: isoTime
      .optional()
      .describe('When the hub recorded the change (absent while it is on its way)'),
    evidence: z
      .record(z.string(), z.string())
      .optional()
      .describe('The change as recorded: policyVersion, formId, channel, requestRef, the redacted note'),
    systems: somePerSystem(consentOutcome),
  })
  .strict();

const systemConsentStateSchema = z
  .object({
    status: z.enum([
      'idle',
      'running',
      'waiting_for_vendor',
      'needs_attention',
      'failed',
      'closed_by_operator',
    ]),
    attempts: z.number().int().min(0),
    failure: systemFailureSchema.optional(),
    closedReason: z.string().optional(),
    completedAt: isoTime.optional(),
    retrying: retryStateSchema.optional(),
    written: z
      .object({
        at: isoTime,
        outcome: consentOutcome,
        fields: z
          .record(z.string(), z.string())
          .describe('Field name → value written, as the connector names them'),
        reason: z.string().optional(),
      })
      .strict()
      .optional()
      .describe('The consent state the hub last wrote to this system, and when'),
    behind: z.boolean().optional().describe('A newer state is waiting for this system'),
  })
  .strict();

/** POST /v1/subjects/status. */
export const subjectStatusSchema = z
  .object({
    subjectKey: z.string(),
    purposes: z
      .object(Object.fromEntries(purposes.map((p) => [p, purposeDecisionSchema.optional()])))
      .strict()
      .describe('The decision in force per purpose, and what each system answered'),
    systems: perSystem(systemConsentStateSchema),
    inFlight: z.number().int().min(0).describe('Changes received and not yet carried to every system'),
    refused: z.array(z.string()).describe('Changes refused because the subject was erased'),
    superseded: z.array(z.string()).describe('Changes outranked by a later one: kept as evidence'),
    erased: z.boolean(),
    operatorActions: z.array(operatorLogEntrySchema).optional(),
    from: z
      .enum(['workflow', 'ledger'])
      .describe('Where the answer came from: the running workflow or the ledger'),
    verification: somePerSystem(
      z
        .object({
          fields: z.array(
            z
              .object({
                field: z.string().describe('`donotbulkemail`, `membership:<audience>`, ...'),
                purposes: z.array(z.enum(purposes)),
                desired: z.string().optional(),
                actual: z.string(),
                differs: z.boolean(),
              })
              .strict(),
          ),
          note: z.string().optional(),
        })
        .strict()
        .or(z.object({ error: z.string() }).strict()),
    )
      .optional()
      .describe('With `verify`: each system read now, field by field, against what the decisions call for'),
    differs: z.boolean().optional().describe('With `verify`: true when some field in some tool differs'),
    unreadable: z
      .array(z.object({ system: z.enum(systemNames), reason: z.string() }).strict())
      .optional()
      .describe('With `verify`: the tools that could not be read now, and why (never counted as agreeing)'),
    agrees: z
      .boolean()
      .optional()
      .describe('With `verify`: true only when every tool was read and no field differs'),
  })
  .strict();

/** POST /v1/requests/{id}/retry and /close. */
export const operatorActionResultSchema = z
  .object({
    kind: z.enum(['erasure', 'consent']).describe('What kind of request the id names'),
    requestId: z.uuid(),
    recorded: operatorLogEntrySchema,
    status: z
      .union([
        erasureStatusSchema,
        subjectStatusSchema.omit({
          from: true,
          verification: true,
          differs: true,
          unreadable: true,
          agrees: true,
        }),
      ])
      .describe("The request's status right after the action"),
  })
  .strict();

/** A request with its deadline: GET /v1/requests rows, and `deadline` in GET /v1/requests/{id}. */
export const requestListingSchema = z
  .object({
    requestId: z.string(),
    kind: z.enum(requestKinds),
    subjectKey: z.string().describe('The pseudonymous key of the person (HMAC of the email)'),
    receivedAt: isoTime.describe('When the request was received (given at intake, else when it was entered)'),
    dueAt: isoTime.describe('receivedAt + 1 (+ extension) calendar months, GDPR Art. 12(3)'),
    extendedMonths: z.number().int().min(0).max(2),
    completedAt: isoTime.optional(),
    state: z.string().describe('completed, or while open: running, needs_attention, open'),
    overdue: z.boolean().describe('Open and past dueAt; a completed request never is'),
  })
  .strict();

/** POST /v1/requests/{id}/extension. */
export const deadlineExtendedSchema = z
  .object({
    requestId: z.string(),
    kind: z.enum(requestKinds),
    deadline: requestListingSchema.omit({ state: true, overdue: true }),
    recorded: z
      .object({
        action: z.literal('extend'),
        months: z.number().int(),
        reason: z.string(),
        operator: z.string(),
        at: isoTime,
      })
      .strict(),
  })
  .strict();
