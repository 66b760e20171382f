import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import {
  AccessExportGone,
  AccessExportUnavailable,
  lookupAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import {
  acknowledgeAddressChangeRefusal,
  listOpenAddressChangeRefusals,
} from '../../hub-client/address-change-refusals.js';
import { consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import {
  ConsentBatchTooLarge,
  consentBatchState,
  recordConsentBatch,
} from '../../hub-client/consent-batch.js';
import { lookupErasure, requestErasure } from '../../hub-client/erasures.js';
import { extendRequestDeadline, listRequests } from '../../hub-client/request-deadlines.js';
import {
  GrantRefusedAfterErasure,
  OperatorActionRefused,
  RequestNotFound,
} from '../../hub-client/request-errors.js';
import { actOnRequest, type OperatorCommand, requestStatus } from '../../hub-client/requests.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { ApiDependencies } from '../api-dependencies.js';
import { type ApiCaller, type ApiScope, apiKeyVerifier } from '../api-keys.js';
import {
  accessBodySchema,
  accessExportQuerySchema,
  addressChangeAcknowledgementSchema,
  addressChangeRefusalParamsSchema,
  addressChangeRefusalsQuerySchema,
  consentBatchBodySchema,
  consentBatchParamsSchema,
  consentEventBodySchema,
  deadlineExtensionBodySchema,
  erasureBodySchema,
  erasureParamsSchema,
  operatorCloseBodySchema,
  operatorRetryBodySchema,
  requestListQuerySchema,
  requestParamsSchema,
  subjectStatusBodySchema,
} from '../api-schemas.js';
import { idempotencyKeySchema, idempotent } from '../idempotency.js';
import { ApiProblem, invalidBody, sendProblem, unauthorizedProblem } from '../problem.js';
import { holdRoutes } from './hold-routes.js';
import { rectificationRoutes } from './rectification-routes.js';

/**
 * A batch's body limit: up to 1,000 events of a few hundred bytes each, some with a note (at most 2,000
 * characters each), so 2 MiB; every other route keeps the API's 64 KiB.
 */
export const consentBatchBodyLimit = 2 * 1024 * 1024;

/** A problem as the body of one refused item of a batch (the same fields sendProblem answers). */
function problemBody(problem: ApiProblem) {
  return {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
}

function parse<T extends z.ZodType>(schema: T, value: unknown, where = 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalidBody(result.error, where);
}

/** The scope each route needs (api/api-keys.ts). */
function scopeFor(method: string, route: string): ApiScope | undefined {
  if (
    method === 'POST' &&
    (route.endsWith('/erasures') ||
      route.endsWith('/consent-events') ||
      route.endsWith('/consent-events/batch') ||
      route.endsWith('/access-requests'))
  )
    return 'intake';
  if (
    method === 'POST' &&
    (route.endsWith('/retry') || route.endsWith('/close') || route.endsWith('/extension'))
  )
    return 'operator';
  if (method === 'POST' && route.includes('/holds')) return 'operator';
  if (route.includes('/address-change-refusals')) return method === 'POST' ? 'operator' : 'status';
  if (method === 'POST' && route.endsWith('/rectifications')) return 'intake';
  if (
    route.includes('/consent-events/batch/') ||
    route.includes('/erasures/') ||
    route.includes('/access-requests/') ||
    route.includes('/requests/') ||
    route.endsWith('/requests') ||
    route.endsWith('/subjects/status')
  )
    return 'status';
  return undefined;
}

/** The authenticated routes under /v1. */
export function v1Routes(deps: ApiDependencies) {
  const verify = apiKeyVerifier(deps.config.CONSENT_HUB_API_KEYS);
  const idempotencyOptions = {
    secret: deps.hub.subjectKeySecret,
    ttl: deps.config.CONSENT_HUB_IDEMPOTENCY_TTL,
  };
  const callers = new WeakMap<FastifyRequest, ApiCaller>();
  const callerOf = (request: FastifyRequest) => {
    const caller = callers.get(request);
    if (!caller) throw unauthorizedProblem();
    return caller;
  };
  const idempotencyKeyOf = (request: FastifyRequest) => {
    const header = request.headers['idempotency-key'];
    if (header === undefined) return undefined;
    const parsed = idempotencyKeySchema.safeParse(header);
    if (!parsed.success) throw invalidBody(parsed.error, 'Idempotency-Key header');
    return parsed.data;
  };

  /**
   * Starts an intake request at most once per (API key, Idempotency-Key): the first 202 answer is stored and
   * replayed (with `idempotent-replayed: true`) for a retry with the same body; a new body under the same key
   * is a 409 (api/idempotency.ts). `start` gets the parsed body and who asked (`api:<key id>`) and returns the 202 body; the
   * answer's `Location` is `location` of that body, replayed or not.
   */
  const startOnce = async <Schema extends z.ZodType<{ email: string }>, Body extends Record<string, unknown>>(
    request: FastifyRequest,
    reply: FastifyReply,
    intake: {
      route: string;
      schema: Schema;
      location: (body: Body) => string;
      start: (input: z.output<Schema>, requestedBy: string) => Promise<Body>;
    },
  ) => {
    // In this order, as every intake route always did: the key's header is checked before the body.
    const caller = callerOf(request);
    const key = idempotencyKeyOf(request);
    const input = parse(intake.schema, request.body);
    const answer = await idempotent(
      deps.ledger,
      {
        ...idempotencyOptions,
        scope: `api:${caller.keyId}`,
        key,
        route: intake.route,
        body: request.body,
        subjectKey: subjectKeyFor(input.email, deps.hub.subjectKeySecret),
      },
      async () => ({ status: 202, body: await intake.start(input, `api:${caller.keyId}`) }),
    );
    if (answer.replayed) reply.header('idempotent-replayed', 'true');
    return reply
      .code(answer.status)
      .header('location', intake.location(answer.body as Body))
      .send(answer.body);
  };

  return async (api: FastifyInstance) => {
    // JSON only: Fastify also parses text/plain by default, which no route here takes.
    api.removeContentTypeParser('text/plain');
    // onRequest runs before the body is read: an unauthenticated request is refused before any parsing.
    api.addHook('onRequest', async (request, reply) => {
      const caller = verify(request.headers.authorization);
      if (!caller) return sendProblem(reply.header('www-authenticate', 'Bearer'), unauthorizedProblem());
      const needed = scopeFor(request.method, request.routeOptions.url ?? '');
      // A key without `status` learns nothing about anyone: not even whether an erasure exists.
      if (needed && !caller.scopes.has(needed)) {
        return sendProblem(
          reply,
          new ApiProblem(
            403,
            'Forbidden',
            `This API key does not have the "${needed}" scope this route needs.`,
          ),
        );
      }
      callers.set(request, caller);
    });
    // Per key, after authentication (preHandler): one noisy client cannot starve the others.
    await api.register(rateLimit, {
      max: deps.config.CONSENT_HUB_API_RATE_LIMIT ?? 600,
      timeWindow: '1 minute',
      hook: 'preHandler',
      keyGenerator: (request) => callers.get(request)?.keyId ?? request.ip,
    });

    api.post('/erasures', (request, reply) =>
      startOnce(request, reply, {
        schema: erasureBodySchema,
        route: 'POST /v1/erasures',
        location: (body) => `/v1/erasures/${body.requestId}`,
        start: async (input, requestedBy) => {
          const started = await requestErasure(
            deps.hub,
            {
              ...input,
              requestedBy: input.requestedBy ?? requestedBy,
              requestedAt: input.requestedAt ?? new Date().toISOString(),
            },
            { ledger: deps.ledger },
          );
          return {
            requestId: started.requestId,
            subjectKey: started.subjectKey,
            // A second request while one runs is merged into it: the caller is told, not left guessing.
            joined: started.joined,
            ...(started.joinedLegacyKey ? { joinedLegacyKey: started.joinedLegacyKey } : {}),
            receivedAt: started.receivedAt,
            dueAt: started.dueAt,
            ...(started.erasureDeadline ? { erasureDeadline: started.erasureDeadline } : {}),
            ...(started.requestedUnder ? { requestedUnder: started.requestedUnder } : {}),
            ...(started.movedRecords ? { movedRecords: started.movedRecords } : {}),
          };
        },
      }),
    );

    api.get('/erasures/:id', async (request) => {
      const { id } = parse(erasureParamsSchema, request.params, 'path');
      // The ledger keeps every finished receipt long after Temporal's retention has dropped the workflow.
      const stored = await deps.ledger.getReceipt(id);
      if (stored) {
        // Requests that came while this receipt was written were carried by follow-up erasures that name it.
        const followUps = (await deps.ledger.listReceipts({ subjectKey: stored.subjectKey }))
          .filter((receipt) => receipt.followUpOf === id)
          .map((receipt) => receipt.requestId);
        return { state: 'completed', receipt: stored, ...(followUps.length > 0 ? { followUps } : {}) };
      }
      try {
        return await lookupErasure(deps.hub, id);
      } catch (error) {
        if (error instanceof RequestNotFound)
          throw new ApiProblem(404, 'Not Found', `No erasure with request id ${id} is known.`);
        throw error;
      }
    });

    api.post('/access-requests', (request, reply) =>
      startOnce(request, reply, {
        schema: accessBodySchema,
        route: 'POST /v1/access-requests',
        location: (body) => `/v1/access-requests/${body.requestId}`,
        start: async (input, requestedBy) => {
          const started = await requestAccess(
            deps.hub,
            {
              ...input,
              requestedBy: input.requestedBy ?? requestedBy,
              requestedAt: input.requestedAt ?? new Date().toISOString(),
            },
            { ledger: deps.ledger },
          );
          return {
            requestId: started.requestId,
            subjectKey: started.subjectKey,
            status: started.status,
            receivedAt: started.receivedAt,
            dueAt: started.dueAt,
            ...(started.requestedUnder ? { requestedUnder: started.requestedUnder } : {}),
          };
        },
      }),
    );

    const notAnAccessRequest = (id: string) =>
      new ApiProblem(404, 'Not Found', `No access request with request id ${id} is known.`);

    api.get('/access-requests/:id', async (request) => {
      const { id } = parse(requestParamsSchema, request.params, 'path');
      try {
        return await lookupAccess(deps.hub, id, deps.ledger);
      } catch (error) {
        if (error instanceof RequestNotFound) throw notAnAccessRequest(id);
        throw error;
      }
    });

    // The copy itself: decrypted here, for a key with the status scope, until it expires (then 410).
    api.get('/access-requests/:id/export', async (request, reply) => {
      const { id } = parse(requestParamsSchema, request.params, 'path');
      const { format } = parse(accessExportQuerySchema, request.query, 'query');
      if (!deps.accessExports)
        throw new ApiProblem(503, 'Service Unavailable', 'This API has no export directory configured.');
      try {
        const { content } = await readAccessExport(deps.hub, deps.accessExports, id, format);
        return reply
          .header(
            'content-type',
            format === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
          )
          .header('content-disposition', `attachment; filename="access-${id}.${format}"`)
          .header('cache-control', 'no-store')
          .send(content);
      } catch (error) {
        if (error instanceof RequestNotFound) throw notAnAccessRequest(id);
        if (error instanceof AccessExportGone) throw new ApiProblem(410, 'Gone', error.message);
        if (error instanceof AccessExportUnavailable)
          throw new ApiProblem(
            /expired/.test(error.message) ? 410 : 409,
            /expired/.test(error.message) ? 'Gone' : 'Conflict',
            error.message,
          );
        throw error;
      }
    });

    // An opt-out is a consent event too (withdrawals of the marketing purposes): one route for both.
    api.post('/consent-events', (request, reply) =>
      startOnce(request, reply, {
        schema: consentEventBodySchema,
        route: 'POST /v1/consent-events',
        location: (body) => `/v1/requests/${body.eventId}`,
        start: async (input) => {
          const accepted = await recordConsentChange(deps.hub, input, undefined, {
            ledger: deps.ledger,
          }).catch((error: unknown) => {
            if (error instanceof GrantRefusedAfterErasure)
              throw new ApiProblem(409, 'Conflict', error.message);
            throw error;
          });
          return {
            eventId: accepted.eventId,
            subjectKey: accepted.subjectKey,
            receivedAt: accepted.receivedAt,
            dueAt: accepted.dueAt,
            ...(accepted.mergedLegacyKey ? { mergedLegacyKey: accepted.mergedLegacyKey } : {}),
          };
        },
      }),
    );

    // Many consent events in one request (an import, a bulk source): each item is the single route's body,
    // checked on its own, so one bad item is refused with its own problem and the rest go ahead together.
    api.post('/consent-events/batch', { bodyLimit: consentBatchBodyLimit }, async (request, reply) => {
      const caller = callerOf(request);
      const key = idempotencyKeyOf(request);
      const { items } = parse(consentBatchBodySchema, request.body);
      const answer = await idempotent(
        deps.ledger,
        {
          ...idempotencyOptions,
          scope: `api:${caller.keyId}`,
          key,
          route: 'POST /v1/consent-events/batch',
          body: request.body,
        },
        async () => {
          const refused: { index: number; problem: ReturnType<typeof problemBody> }[] = [];
          const valid: { index: number; change: z.output<typeof consentEventBodySchema> }[] = [];
          items.forEach((item, index) => {
            const parsed = consentEventBodySchema.safeParse(item);
            if (parsed.success) valid.push({ index, change: parsed.data });
            else refused.push({ index, problem: problemBody(invalidBody(parsed.error, `item ${index}`)) });
          });
          const batch = await recordConsentBatch(deps.hub, valid, { ledger: deps.ledger }).catch(
            (error: unknown) => {
              // Long evidence past what one batch workflow can carry: the caller splits, a retry would not do.
              if (error instanceof ConsentBatchTooLarge)
                throw new ApiProblem(413, 'Payload Too Large', error.message);
              throw error;
            },
          );
          for (const item of batch.refused) {
            refused.push({
              index: item.index,
              problem: problemBody(
                item.refused === 'erased'
                  ? new ApiProblem(409, 'Conflict', item.reason)
                  : new ApiProblem(400, 'Invalid request', item.reason),
              ),
            });
          }
          refused.sort((a, b) => a.index - b.index);
          return {
            status: 202,
            body: {
              batchId: batch.batchId,
              ...(batch.workflowId ? { workflowId: batch.workflowId } : {}),
              accepted: batch.accepted.map(({ index, eventId, subjectKey, receivedAt, dueAt }) => ({
                index,
                eventId,
                subjectKey,
                receivedAt,
                dueAt,
              })),
              refused,
            },
          };
        },
      );
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      const { batchId } = answer.body as { batchId: string };
      return reply
        .code(answer.status)
        .header('location', `/v1/consent-events/batch/${batchId}`)
        .send(answer.body);
    });

    // Where a batch stands: running, or its result per person (bulk, handed to their workflow, settled).
    api.get('/consent-events/batch/:id', async (request) => {
      const { id } = parse(consentBatchParamsSchema, request.params, 'path');
      const state = await consentBatchState(deps.hub, id);
      if (!state) throw new ApiProblem(404, 'Not Found', `There is no consent batch ${id}.`);
      return state;
    });

    // POST rather than GET ?email=: a query string is written to access logs by every proxy on the way,
    // and a person's email must not end up there.
    api.post('/subjects/status', async (request) => {
      const { email, verify } = parse(subjectStatusBodySchema, request.body);
      return consentStatus(deps.hub, deps.ledger, email, { verify });
    });

    // Every request of every kind with its deadline, soonest due first; `overdue=true` or `dueWithin=7d`.
    api.get('/requests', async (request) => {
      const query = parse(requestListQuerySchema, request.query, 'query');
      return listRequests(deps.hub, deps.ledger, {
        ...(query.overdue ? { overdue: true } : {}),
        ...(query.dueWithin === undefined ? {} : { dueWithinMs: query.dueWithin }),
        ...(query.kind ? { kind: query.kind } : {}),
      });
    });

    // Vendors' address changes the hub refused (issue 18), open until an operator acknowledges them.
    api.get('/address-change-refusals', async (request) => {
      const query = parse(addressChangeRefusalsQuerySchema, request.query, 'query');
      return {
        addressChangeRefusals: query.open
          ? await listOpenAddressChangeRefusals(deps.ledger)
          : await deps.ledger.listAddressChangeRefusals({
              ...(query.subjectKey ? { subjectKey: query.subjectKey } : {}),
            }),
      };
    });

    // Any request by its id: an erasure, or a consent change (the eventId of POST /v1/consent-events).
    api.get('/requests/:id', async (request) => {
      const { id } = parse(requestParamsSchema, request.params, 'path');
      return notFoundNamed(id, () => requestStatus(deps.hub, deps.ledger, id));
    });

    await api.register(
      rectificationRoutes(deps, (request) => `api:${callerOf(request as FastifyRequest).keyId}`),
    );

    // The operator's actions, as one group: a key's permission to act is one hook on this group.
    await api.register(async (operator) => {
      operator.post('/requests/:id/retry', async (request) => {
        const { id } = parse(requestParamsSchema, request.params, 'path');
        const { system } = parse(operatorRetryBodySchema, request.body);
        return act(id, { action: 'retry', system, operator: `api:${callerOf(request).keyId}` });
      });
      operator.post('/requests/:id/close', async (request) => {
        const { id } = parse(requestParamsSchema, request.params, 'path');
        const { system, reason } = parse(operatorCloseBodySchema, request.body);
        return act(id, { action: 'close', system, reason, operator: `api:${callerOf(request).keyId}` });
      });
      operator.post('/requests/:id/extension', async (request) => {
        const { id } = parse(requestParamsSchema, request.params, 'path');
        const { months, reason } = parse(deadlineExtensionBodySchema, request.body);
        return notFoundNamed(id, async () => {
          try {
            return await extendRequestDeadline(deps.hub, deps.ledger, id, {
              months,
              reason,
              operator: `api:${callerOf(request).keyId}`,
            });
          } catch (error) {
            if (error instanceof OperatorActionRefused) throw new ApiProblem(409, 'Conflict', error.message);
            throw error;
          }
        });
      });
      operator.post('/address-change-refusals/:id/acknowledge', async (request) => {
        const { id } = parse(addressChangeRefusalParamsSchema, request.params, 'path');
        const { resolution } = parse(addressChangeAcknowledgementSchema, request.body);
        try {
          return await acknowledgeAddressChangeRefusal(deps.ledger, id, {
            resolution,
            operator: `api:${callerOf(request).keyId}`,
          });
        } catch (error) {
          if (error instanceof OperatorActionRefused) throw new ApiProblem(409, 'Conflict', error.message);
          if (error instanceof RequestNotFound)
            throw new ApiProblem(404, 'Not Found', `No refused address change with id ${id} is known.`);
          throw error;
        }
      });
      await operator.register(
        holdRoutes(deps, (request) => `api:${callerOf(request as FastifyRequest).keyId}`),
      );
    });
  };

  function act(id: string, command: OperatorCommand) {
    return notFoundNamed(id, async () => {
      try {
        return await actOnRequest(deps.hub, deps.ledger, id, command);
      } catch (error) {
        if (error instanceof OperatorActionRefused) throw new ApiProblem(409, 'Conflict', error.message);
        throw error;
      }
    });
  }
}

/** An unknown request id answers 404 naming the id. */
async function notFoundNamed<T>(id: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RequestNotFound)
      throw new ApiProblem(404, 'Not Found', `No request with id ${id} is known.`);
    throw error;
  }
}
