import { z } from 'zod';
import { addressChangeRefusalReasons, addressChangeResolutions } from '../domain/address-change-refusal.js';
import { requestKinds } from '../domain/request-deadline.js';
import {
  deadlineExtendedSchema,
  erasureLookupSchema,
  operatorActionResultSchema,
  requestListingSchema,
  subjectStatusSchema,
} from './api-response-schemas.js';
import {
  accessAcceptedSchema,
  accessBodySchema,
  consentAcceptedSchema,
  consentBatchAcceptedSchema,
  consentBatchDocSchema,
  consentEventBodySchema,
  deadlineExtensionBodySchema,
  erasureAcceptedSchema,
  erasureBodySchema,
  operatorCloseBodySchema,
  operatorRetryBodySchema,
  problemSchema,
  subjectStatusBodySchema,
} from './api-schemas.js';
import {
  holdBodySchema,
  holdPlacedSchema,
  holdReleasedSchema,
  releaseBodySchema,
} from './routes/hold-routes.js';
import { rectificationAcceptedSchema, rectificationBodySchema } from './routes/rectification-routes.js';

/** JSON Schema 2020-12 (what OpenAPI 3.1 uses), generated from the same zod schemas the routes parse with. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output') {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

/** A refused address change as GET /v1/address-change-refusals lists it (domain/address-change-refusal.ts). */
const addressChangeRefusalSchema = {
  type: 'object',
  required: ['id', 'subjectKey', 'newSubjectKey', 'source', 'reason', 'recordedAt'],
  properties: {
    id: { type: 'string' },
    subjectKey: { type: 'string', description: 'The key of the address the hub and Dynamics still hold' },
    newSubjectKey: { type: 'string', description: 'The key of the address the vendor moved the person to' },
    source: { type: 'string', description: '`mailchimp:upemail`' },
    reason: { enum: [...addressChangeRefusalReasons] },
    requestId: { type: 'string', description: 'The rectification the change started, when one did' },
    recordedAt: { type: 'string', format: 'date-time' },
    resolvedAt: { type: 'string', format: 'date-time' },
    resolvedBy: { type: 'string' },
    resolution: { enum: [...addressChangeResolutions, 'intake_retry_succeeded'] },
  },
};

const json = (description: string, schema: object) => ({
  description,
  content: { 'application/json': { schema } },
});
const body = (name: string) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
const location = (description: string) => ({
  Location: { description, schema: { type: 'string', format: 'uri-reference' } },
});
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Same key and body: the first answer is replayed. Same key, other body: 409.',
  schema: { type: 'string', maxLength: 255 },
};
const requestId = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', format: 'uuid' },
});

/** Answers every authenticated operation can give. */
const readErrors = {
  '400': problem('Invalid input; `errors` names each field'),
  '401': problem('Missing or wrong API key; nothing was started'),
};
/** And those of an operation that takes a JSON body. */
const writeErrors = {
  ...readErrors,
  '413': problem('Body larger than the limit'),
  '415': problem('Body is not application/json: send it with Content-Type: application/json'),
};

/**
 * The API's OpenAPI 3.1 document. `serverUrl` is where this API is served (consent-hub serve knows its host
 * and port); a relative `/` serves a document fetched from the API itself.
 */
export function openApiDocument(serverUrl = '/') {
  return {
    openapi: '3.1.0',
    info: {
      title: 'consent-hub intake API',
      version: '1',
      description:
        'Starts erasures and records consent changes; each accepted request is a Temporal workflow before the 202 is sent. Operators follow any request by its id and retry or close a system that needs attention.',
      license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
    },
    servers: [{ url: serverUrl, description: 'this consent-hub API' }],
    tags: [
      { name: 'intake', description: 'Erasures and consent changes' },
      { name: 'status', description: 'What happened to a request or a person' },
      { name: 'operator', description: 'Acting on a request that needs attention' },
      { name: 'service', description: 'Health and this document' },
    ],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ErasureRequest: jsonSchema(erasureBodySchema, 'input'),
        ErasureAccepted: jsonSchema(erasureAcceptedSchema, 'output'),
        ErasureLookup: jsonSchema(erasureLookupSchema, 'output'),
        AccessRequest: jsonSchema(accessBodySchema, 'input'),
        AccessAccepted: jsonSchema(accessAcceptedSchema, 'output'),
        AccessStatus: {
          type: 'object',
          description:
            "The access request per system (status, counts by record kind, failure), the export (sizes, digest, schema, counts) once written, `expiresAt`, and `deletedAt` once the export was deleted; `withdrawn` when the person's erasure ended it. Holds no personal data.",
          required: ['requestId', 'subjectKey', 'status', 'requestedAt', 'requestedBy', 'systems'],
          properties: {
            requestId: { type: 'string', format: 'uuid' },
            subjectKey: { type: 'string' },
            status: { enum: ['running', 'needs_attention', 'ready', 'expired', 'withdrawn'] },
            requestedAt: { type: 'string' },
            requestedBy: { type: 'string' },
            receivedAt: { type: 'string' },
            systems: { type: 'object', additionalProperties: { type: 'object' } },
            export: {
              type: 'object',
              description:
                'Once written: `sizes` (bytes per format), `jsonDigest`, `schema` (the version the JSON follows, `access-export/v2` now), `recordCount`, `counts` (per source system, records by kind; Google counts `gaClientId` and `gaUserId` as well as `dataRetention`), `writtenAt`.',
            },
            expiresAt: { type: 'string' },
            deletedAt: { type: 'string' },
            withdrawn: {
              type: 'object',
              description:
                "Set when the person's erasure ended the request: `reason` subject_erased, `at`, `erasureRequestId`.",
            },
            outcome: { enum: ['completed', 'completed_with_failures', 'withdrawn_subject_erased'] },
          },
        },
        ConsentEvent: jsonSchema(consentEventBodySchema, 'input'),
        ConsentAccepted: jsonSchema(consentAcceptedSchema, 'output'),
        ConsentBatch: jsonSchema(consentBatchDocSchema, 'input'),
        ConsentBatchAccepted: jsonSchema(consentBatchAcceptedSchema, 'output'),
        SubjectStatusRequest: jsonSchema(subjectStatusBodySchema, 'input'),
        SubjectStatus: jsonSchema(subjectStatusSchema, 'output'),
        RequestStatus: {
          oneOf: [
            {
              type: 'object',
              required: ['kind', 'requestId', 'lookup'],
              additionalProperties: false,
              properties: {
                kind: { const: 'erasure' },
                requestId: { type: 'string', format: 'uuid' },
                lookup: ref('ErasureLookup'),
                deadline: ref('RequestListing'),
              },
            },
            {
              type: 'object',
              required: ['kind', 'requestId', 'subject'],
              additionalProperties: false,
              properties: {
                kind: { const: 'consent' },
                requestId: { type: 'string', format: 'uuid' },
                subject: ref('SubjectStatus'),
                deadline: ref('RequestListing'),
              },
            },
            {
              type: 'object',
              required: ['kind', 'requestId', 'access'],
              additionalProperties: false,
              properties: {
                kind: { const: 'access' },
                requestId: { type: 'string', format: 'uuid' },
                access: ref('AccessStatus'),
                deadline: ref('RequestListing'),
              },
            },
            {
              type: 'object',
              required: ['kind', 'requestId', 'rectification'],
              additionalProperties: false,
              properties: {
                kind: { const: 'rectification' },
                requestId: { type: 'string', format: 'uuid' },
                rectification: ref('RectificationLookup'),
                deadline: ref('RequestListing'),
              },
            },
          ],
        },
        OperatorRetry: jsonSchema(operatorRetryBodySchema, 'input'),
        OperatorClose: jsonSchema(operatorCloseBodySchema, 'input'),
        OperatorActionResult: jsonSchema(operatorActionResultSchema, 'output'),
        RequestListing: jsonSchema(requestListingSchema, 'output'),
        RequestList: { type: 'array', items: ref('RequestListing') },
        DeadlineExtension: jsonSchema(deadlineExtensionBodySchema, 'input'),
        DeadlineExtended: jsonSchema(deadlineExtendedSchema, 'output'),
        RectificationRequest: jsonSchema(rectificationBodySchema, 'input'),
        RectificationAccepted: jsonSchema(rectificationAcceptedSchema, 'output'),
        RectificationLookup: {
          description:
            'A rectification: `state` completed with its `receipt` (fields changed per system, with keyed before-hashes, never a value), or open with its live `status` (per system: state, attempts, failure, and `retrying` with the attempt, last failure and next retry). Holds no personal data.',
          oneOf: [
            {
              type: 'object',
              required: ['state', 'receipt'],
              properties: {
                state: { const: 'completed' },
                receipt: {
                  type: 'object',
                  required: ['requestId', 'subjectKey', 'outcome', 'fields', 'systems'],
                  properties: {
                    requestId: { type: 'string', format: 'uuid' },
                    subjectKey: { type: 'string' },
                    outcome: { enum: ['completed', 'completed_with_failures', 'refused'] },
                    refusal: { enum: ['vendor_conflict', 'too_many_records', 'erasure_running'] },
                    newSubjectKey: { type: 'string' },
                    fields: { type: 'array', items: { enum: ['email', 'firstname', 'lastname'] } },
                    systems: { type: 'object', additionalProperties: { type: 'object' } },
                    rekeyed: { type: 'object' },
                    rekeyNote: { type: 'string' },
                    operatorActions: { type: 'array', items: { type: 'object' } },
                  },
                },
              },
            },
            {
              type: 'object',
              required: ['state', 'status'],
              properties: {
                state: { const: 'open' },
                status: {
                  type: 'object',
                  required: ['requestId', 'subjectKey', 'status', 'systems'],
                  properties: {
                    requestId: { type: 'string', format: 'uuid' },
                    subjectKey: { type: 'string' },
                    status: { enum: ['running', 'needs_attention'] },
                    systems: { type: 'object', additionalProperties: { type: 'object' } },
                    operatorActions: { type: 'array', items: { type: 'object' } },
                  },
                },
              },
            },
          ],
        },
        HoldRequest: jsonSchema(holdBodySchema, 'input'),
        HoldPlaced: jsonSchema(holdPlacedSchema, 'output'),
        HoldReleaseRequest: jsonSchema(releaseBodySchema, 'input'),
        HoldReleased: jsonSchema(holdReleasedSchema, 'output'),
        Health: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] },
        Problem: jsonSchema(problemSchema, 'output'),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/erasures': {
        post: {
          operationId: 'startErasure',
          tags: ['intake'],
          summary: 'Start an erasure, or join the one running for the same person',
          parameters: [idempotencyKey],
          requestBody: body('ErasureRequest'),
          responses: {
            '202': {
              ...json('Accepted: the erasure is a workflow now', ref('ErasureAccepted')),
              headers: location('Where to follow it: /v1/erasures/{requestId}'),
            },
            '409': problem('Idempotency-Key reused with another body'),
            ...writeErrors,
          },
        },
      },
      '/v1/erasures/{id}': {
        get: {
          operationId: 'getErasure',
          tags: ['status'],
          summary: "An erasure's receipt, or its live status while it runs",
          parameters: [requestId('The erasure request id')],
          responses: {
            '200': json(
              '`{state:"completed", receipt}` or `{state:"open", status}`, with per system the attempt, last failure and next retry',
              ref('ErasureLookup'),
            ),
            '404': problem('No erasure with this request id; the detail names the id'),
            ...readErrors,
          },
        },
      },
      '/v1/access-requests': {
        post: {
          operationId: 'startAccessRequest',
          tags: ['intake'],
          summary:
            'Start an access and portability request (GDPR Art. 15 and 20): everything every system holds about the person, as JSON and an HTML report',
          parameters: [idempotencyKey],
          requestBody: body('AccessRequest'),
          responses: {
            '202': {
              ...json('Accepted: the access request is a workflow now', ref('AccessAccepted')),
              headers: location('Where to follow it: /v1/access-requests/{requestId}'),
            },
            '409': problem('Idempotency-Key reused with another body'),
            ...writeErrors,
          },
        },
      },
      '/v1/access-requests/{id}': {
        get: {
          operationId: 'getAccessRequest',
          tags: ['status'],
          summary:
            "An access request's status per system, the export's counts and until when it can be fetched",
          parameters: [requestId('The access request id')],
          responses: {
            '200': json('The status, or the receipt once the export was deleted', ref('AccessStatus')),
            '404': problem('No access request with this request id; the detail names the id'),
            ...readErrors,
          },
        },
      },
      '/v1/access-requests/{id}/export': {
        get: {
          operationId: 'getAccessExport',
          tags: ['status'],
          summary:
            'The export itself, decrypted: the portable JSON (docs/schemas/access-export-v2.json; exports written before v2: access-export-v1.json) or the HTML report',
          parameters: [
            requestId('The access request id'),
            {
              name: 'format',
              in: 'query',
              required: false,
              description: '`json` (the default) or `html`',
              schema: { enum: ['json', 'html'], default: 'json' },
            },
          ],
          responses: {
            '200': {
              description: 'The export, as an attachment',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    description:
                      "The portable copy. `schema` names the version it follows: `access-export/v2` (docs/schemas/access-export-v2.json: the hub's own records include legal holds and releases, restrictions, rectifications, moved records as keyed references and earlier access requests; `fields[].keyed` marks keyed references), or `access-export/v1` (docs/schemas/access-export-v1.json) for an export written before v2.",
                    required: ['schema', 'records'],
                    properties: {
                      $schema: { type: 'string' },
                      schema: { enum: ['access-export/v1', 'access-export/v2'] },
                      records: { type: 'array', items: { type: 'object' } },
                    },
                  },
                },
                'text/html': { schema: { type: 'string' } },
              },
            },
            '404': problem('No access request with this request id'),
            '409': problem('The export is not ready yet'),
            '410': problem(
              "The export expired and was deleted (the detail says when), or was deleted with its subject's erasure",
            ),
            '503': problem('This API has no export directory configured'),
            ...readErrors,
          },
        },
      },
      '/v1/consent-events': {
        post: {
          operationId: 'recordConsentEvent',
          tags: ['intake'],
          summary: 'Record a grant or withdrawal with its evidence, and carry it to every tool',
          parameters: [idempotencyKey],
          requestBody: body('ConsentEvent'),
          responses: {
            '202': {
              ...json('Accepted: handed to the person’s consent workflow', ref('ConsentAccepted')),
              headers: location('Where to follow it: /v1/requests/{eventId}'),
            },
            '409': problem(
              'Idempotency-Key reused with another body, or a grant for a person who was erased (nothing is recorded)',
            ),
            ...writeErrors,
          },
        },
      },
      '/v1/consent-events/batch': {
        post: {
          operationId: 'recordConsentEventBatch',
          tags: ['intake'],
          summary:
            'Record up to 1,000 consent events at once (an import, a bulk source): opt-outs are written with the vendors’ batch calls',
          description:
            'Each item is the body of POST /v1/consent-events and is checked on its own: an invalid item, or a grant for an erased person, is refused with its own problem (by its index) and nothing of it is recorded; the others are accepted together. One batch workflow appends every accepted event to the ledger with its evidence and writes opt-outs to Dynamics ($batch) and Mailchimp (batch subscribe or unsubscribe, only for members it has just read, so no address is ever added); a grant, a statistics withdrawal, a person whose consent workflow is open or whose erasure runs, and anyone a bulk write did not serve go to the person’s own consent workflow. Each accepted event is followed at /v1/requests/{eventId}, the batch at the Location.',
          parameters: [idempotencyKey],
          requestBody: body('ConsentBatch'),
          responses: {
            '202': {
              ...json(
                'Accepted: per item, its event id or the problem that refused it',
                ref('ConsentBatchAccepted'),
              ),
              headers: location('Where to follow the batch: /v1/consent-events/batch/{batchId}'),
            },
            '409': problem('Idempotency-Key reused with another body'),
            ...writeErrors,
          },
        },
      },
      '/v1/consent-events/batch/{id}': {
        get: {
          operationId: 'getConsentEventBatch',
          tags: ['status'],
          summary:
            'A batch: running, or per person where their events went (bulk, their own workflow, settled) and each system’s outcome',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'The batch id',
              schema: { type: 'string', format: 'uuid' },
            },
          ],
          responses: {
            '200': json('The batch', { type: 'object' }),
            '404': problem('No such batch'),
            ...readErrors,
          },
        },
      },
      '/v1/subjects/status': {
        post: {
          operationId: 'getSubjectStatus',
          tags: ['status'],
          summary: "A person's consent per purpose and per system (the email is in the body, not the URL)",
          requestBody: body('SubjectStatusRequest'),
          responses: { '200': json('The consent status', ref('SubjectStatus')), ...writeErrors },
        },
      },
      '/v1/requests': {
        get: {
          operationId: 'listRequests',
          tags: ['status'],
          summary:
            'Requests of every kind with when they were received and are due (GDPR Art. 12(3)), soonest due first',
          parameters: [
            {
              name: 'overdue',
              in: 'query',
              required: false,
              description: 'true: only open requests past their deadline',
              schema: { type: 'string', enum: ['true', 'false'] },
            },
            {
              name: 'dueWithin',
              in: 'query',
              required: false,
              description: 'Only open requests due within this window (overdue ones too): 7d, 48h, 2w',
              schema: { type: 'string', pattern: '^[0-9]{1,4}[hdw]$' },
            },
            {
              name: 'kind',
              in: 'query',
              required: false,
              description: 'Only requests of this kind',
              schema: { type: 'string', enum: [...requestKinds] },
            },
          ],
          responses: { '200': json('The requests', ref('RequestList')), ...readErrors },
        },
      },
      '/v1/address-change-refusals': {
        get: {
          operationId: 'listAddressChangeRefusals',
          tags: ['status'],
          summary:
            "Vendors' address changes the hub refused (a Mailchimp upemail refused at intake, or its rectification refused or ended with failures): Mailchimp holds the new address, Dynamics and the hub the old, until an operator acknowledges it. Subject keys and codes only",
          parameters: [
            {
              name: 'open',
              in: 'query',
              required: false,
              description: 'true: only those no operator has acknowledged',
              schema: { type: 'string', enum: ['true', 'false'] },
            },
            {
              name: 'subjectKey',
              in: 'query',
              required: false,
              description: "Only this person's (under the old or the new key)",
              schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            },
          ],
          responses: {
            '200': json('The refused address changes, oldest first', {
              type: 'object',
              required: ['addressChangeRefusals'],
              properties: {
                addressChangeRefusals: { type: 'array', items: addressChangeRefusalSchema },
              },
            }),
            ...readErrors,
          },
        },
      },
      '/v1/address-change-refusals/{id}/acknowledge': {
        post: {
          operationId: 'acknowledgeAddressChangeRefusal',
          tags: ['operator'],
          summary:
            'Acknowledge a refused address change with how it was resolved; recorded with the API key and time, kept in the person’s history',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'The refused address change’s id, as the list gives it',
              schema: { type: 'string' },
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['resolution'],
                  additionalProperties: false,
                  properties: { resolution: { enum: [...addressChangeResolutions] } },
                },
              },
            },
          },
          responses: {
            '200': json('Acknowledged', addressChangeRefusalSchema),
            '404': problem('No refused address change with this id'),
            '409': problem('Acknowledged already; the detail names by whom and when'),
            ...writeErrors,
          },
        },
      },
      '/v1/requests/{id}/extension': {
        post: {
          operationId: 'extendRequestDeadline',
          tags: ['operator'],
          summary:
            'Extend a request’s deadline by 1 or 2 months with the reason (two in all, GDPR Art. 12(3)); recorded with the API key and time',
          parameters: [requestId('A request id (an erasure’s, a consent change’s eventId, ...)')],
          requestBody: body('DeadlineExtension'),
          responses: {
            '200': json('Extended; the new deadline and the recorded action', ref('DeadlineExtended')),
            '404': problem('No request with this id; the detail names the id'),
            '409': problem('The request has completed, or the two months of extension are used'),
            ...writeErrors,
          },
        },
      },
      '/v1/requests/{id}': {
        get: {
          operationId: 'getRequest',
          tags: ['status'],
          summary: 'Any request by its id: an erasure, or a consent change (its eventId)',
          parameters: [
            requestId(
              'Any request id: an erasure, access or rectification request id, or a consent change’s eventId',
            ),
          ],
          responses: {
            '200': json('The request’s kind and state', ref('RequestStatus')),
            '404': problem('No request with this id; the detail names the id'),
            ...readErrors,
          },
        },
      },
      '/v1/requests/{id}/retry': {
        post: {
          operationId: 'retryRequestSystem',
          tags: ['operator'],
          summary:
            'Retry a system that needs attention, after fixing its cause; recorded with the API key and time',
          parameters: [
            requestId(
              'Any request id: an erasure, access or rectification request id, or a consent change’s eventId',
            ),
          ],
          requestBody: body('OperatorRetry'),
          responses: {
            '200': json(
              'Retrying; the recorded action and the request’s status',
              ref('OperatorActionResult'),
            ),
            '404': problem('No request with this id; the detail names the id'),
            '409': problem('The system does not need attention, or the request has finished'),
            ...writeErrors,
          },
        },
      },
      '/v1/requests/{id}/close': {
        post: {
          operationId: 'closeRequestSystem',
          tags: ['operator'],
          summary:
            'Give up on a system that needs attention, with a reason; recorded with the API key and time',
          parameters: [
            requestId(
              'Any request id: an erasure, access or rectification request id, or a consent change’s eventId',
            ),
          ],
          requestBody: body('OperatorClose'),
          responses: {
            '200': json('Closed; the recorded action and the request’s status', ref('OperatorActionResult')),
            '404': problem('No request with this id; the detail names the id'),
            '409': problem('The system does not need attention, or the request has finished'),
            ...writeErrors,
          },
        },
      },
      '/v1/rectifications': {
        post: {
          operationId: 'startRectification',
          tags: ['intake'],
          summary:
            "Correct a person's email or name in every system (GDPR Art. 16); an email change re-keys the person",
          requestBody: body('RectificationRequest'),
          responses: {
            '202': json('Accepted: the rectification is a workflow now', ref('RectificationAccepted')),
            '403': problem('The API key lacks the intake scope'),
            '409': problem(
              'Refused before anything is written: the new email is the current one (case aside), an erased person’s, or another person’s in the ledger; the detail names subject keys, never an address',
            ),
            ...writeErrors,
          },
        },
      },
      '/v1/holds': {
        post: {
          operationId: 'placeHold',
          tags: ['operator'],
          summary:
            'Put a person on legal hold (GDPR Art. 17(3), Art. 18): their erasure restricts instead of deleting until the hold is released',
          requestBody: body('HoldRequest'),
          responses: {
            '201': json('On hold now', ref('HoldPlaced')),
            '200': json('Already on hold; the hold in force is kept as it was', ref('HoldPlaced')),
            '403': problem('The API key lacks the operator scope'),
            ...writeErrors,
          },
        },
      },
      '/v1/holds/release': {
        post: {
          operationId: 'releaseHold',
          tags: ['operator'],
          summary: "Release a person's legal hold; their restricted erasure goes on to delete",
          requestBody: body('HoldReleaseRequest'),
          responses: {
            '200': json('Released', ref('HoldReleased')),
            '403': problem('The API key lacks the operator scope'),
            '409': problem(
              'The person is not on hold (never held, or released already): nothing was released',
            ),
            ...writeErrors,
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          tags: ['service'],
          security: [],
          summary: 'Liveness',
          responses: { '200': json('ok', ref('Health')) },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openApiDocument',
          tags: ['service'],
          security: [],
          summary: 'This document',
          responses: { '200': json('OpenAPI 3.1', { type: 'object' }) },
        },
      },
    },
  };
}
