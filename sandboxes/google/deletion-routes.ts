import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SandboxContext, VendorErrorReply } from '../framework/sandbox-definition.js';
import { googleApiError, googleQuotaError, type QuotaRefusal } from './errors.js';
import { analyticsEditScope, analyticsReadonlyScope, userDeletionScope } from './google-facts.js';
import { type AccessTokenGrant, type GoogleSandboxStore, type IdentifierType, sha256Hex } from './store.js';

const upsertPath = '/analytics/v3/userDeletion/userDeletionRequests:upsert';
const submitPath = /^\/v1alpha\/properties\/([^/:]+):submitUserDeletion$/;

const upsertBodySchema = z.object({
  kind: z.literal('analytics#userDeletionRequest').optional(),
  id: z.object({
    type: z.enum(['CLIENT_ID', 'USER_ID', 'APP_INSTANCE_ID']),
    userId: z.string().min(1),
  }),
  propertyId: z.string().regex(/^\d+$/).optional(),
  webPropertyId: z
    .string()
    .regex(/^UA-\d+-\d+$/i)
    .optional(),
  firebaseProjectId: z.string().min(1).optional(),
});

const submitBodySchema = z
  .object({
    userId: z.string().min(1).optional(),
    clientId: z.string().min(1).optional(),
    appInstanceId: z.string().min(1).optional(),
    userProvidedData: z.string().min(1).optional(),
  })
  .strict();

/**
 * The property a User Deletion API request names: a GA4 `propertyId`, or the legacy `webPropertyId`
 * (`UA-XXXXX-YY`) or `firebaseProjectId`, all still in the resource
 * (https://developers.google.com/analytics/devguides/config/userdeletion/v3/reference/userDeletion/userDeletionRequest).
 * Exactly one.
 */
const propertyFields = ['propertyId', 'webPropertyId', 'firebaseProjectId'] as const;

class QuotaError extends Error {
  constructor(readonly refusal: QuotaRefusal) {
    super('quota');
  }
}

class ApiRefusal extends Error {
  constructor(
    readonly status: number,
    readonly reply: VendorErrorReply,
  ) {
    super('refused');
  }
}

const refusal = (...args: Parameters<typeof googleApiError>) =>
  new ApiRefusal(args[0], googleApiError(...args));

/** The bearer token's grant, if it is known, unexpired and carries the scope the API requires. */
function authorise(
  request: FastifyRequest,
  store: GoogleSandboxStore,
  scope: string | readonly string[],
): AccessTokenGrant {
  const header = request.headers.authorization ?? '';
  const token = /^Bearer (.+)$/i.exec(header)?.[1];
  const grant = token ? store.tokens.get(token) : undefined;
  if (!grant || grant.expiresAt <= Date.now()) {
    throw refusal(
      401,
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      'invalidCredentials',
    );
  }
  if (!(typeof scope === 'string' ? [scope] : scope).some((one) => grant.scopes.has(one))) {
    throw refusal(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions');
  }
  return grant;
}

/**
 * An unknown property gets 403, not 404: Google does not tell a caller whether a property it may not use
 * exists, and answers both APIs' requests for other people's properties with a permission error.
 */
function requireProperty(store: GoogleSandboxStore, propertyId: string): void {
  if (!store.properties.has(propertyId)) {
    throw refusal(
      403,
      `User does not have sufficient permissions for this property (${propertyId}).`,
      'insufficientPermissions',
    );
  }
}

/**
 * The User Deletion API's per-property rate and per-property and per-project daily quotas
 * (https://developers.google.com/analytics/devguides/config/userdeletion/v3/limits-quotas).
 */
function enforceQuotas(store: GoogleSandboxStore, propertyId: string, grant: AccessTokenGrant): void {
  if (!store.takeRateToken(propertyId)) {
    store.reject('rateLimitExceeded');
    throw new QuotaError({
      per: 'second',
      scope: 'property',
      limit: store.requestsPerSecond,
      project: grant.project,
    });
  }
  const over = store.countDaily(propertyId, grant.project);
  if (over) {
    store.reject('dailyLimitExceeded');
    const limit = over === 'property' ? store.dailyQuotaPerProperty : store.dailyQuotaPerProject;
    throw new QuotaError({ per: 'day', scope: over, limit, project: grant.project });
  }
}

function invalid(issue: string): ApiRefusal {
  return refusal(400, `Invalid value: ${issue}`, 'invalidParameter');
}

async function answer(reply: FastifyReply, work: () => unknown): Promise<FastifyReply> {
  try {
    return reply.code(200).send(work());
  } catch (error) {
    const refused =
      error instanceof ApiRefusal
        ? error
        : error instanceof QuotaError
          ? new ApiRefusal(429, googleQuotaError(error.refusal))
          : undefined;
    if (!refused) throw error;
    return reply
      .code(refused.status)
      .header('content-type', refused.reply.contentType)
      .send(JSON.stringify(refused.reply.body));
  }
}

/** The User Deletion API (analytics v3) and the GA4 Admin API's submitUserDeletion, on one root URL. */
export function deletionRoutes(app: FastifyInstance, { store }: SandboxContext<GoogleSandboxStore>): void {
  // The path holds a literal colon (`:upsert`), which the router would read as a parameter; match it here.
  app.post('/analytics/v3/*', (request, reply) =>
    answer(reply, () => {
      if (request.url.split('?')[0] !== upsertPath) throw refusal(404, 'Not Found', 'notFound');
      const grant = authorise(request, store, userDeletionScope);
      const parsed = upsertBodySchema.safeParse(request.body);
      if (!parsed.success) throw invalid(parsed.error.issues[0]?.path.join('.') || 'body');
      const body = parsed.data;
      const named = propertyFields.filter((field) => body[field] !== undefined);
      const field = named[0];
      if (named.length !== 1 || field === undefined) {
        throw invalid('exactly one of propertyId, webPropertyId or firebaseProjectId is required');
      }
      const property = String(body[field]);
      requireProperty(store, property);
      enforceQuotas(store, property, grant);
      const record = store.recordDeletion(property, 'userDeletion', body.id.type, body.id.userId);
      // The answer echoes the request in the field it came in, whichever kind of property it names.
      return {
        kind: 'analytics#userDeletionRequest',
        id: body.id,
        [field]: property,
        deletionRequestTime: record.deletionRequestTime,
      };
    }),
  );

  // GET properties/{id}/dataRetentionSettings on the Admin API, v1beta and v1alpha alike: how long the
  // property keeps event and user-level data (admin/v1/rest/v1beta/properties/getDataRetentionSettings).
  // Either the read-only or the edit scope may read it.
  const retentionPath = /^\/v1(?:beta|alpha)\/properties\/([^/]+)\/dataRetentionSettings$/;
  const readRetention = (request: FastifyRequest, reply: FastifyReply) =>
    answer(reply, () => {
      const propertyId = retentionPath.exec(request.url.split('?')[0] ?? '')?.[1];
      if (propertyId === undefined) throw refusal(404, 'Not Found', 'notFound');
      authorise(request, store, [analyticsReadonlyScope, analyticsEditScope]);
      if (!/^\d+$/.test(propertyId))
        throw invalid('name must be properties/{property_id}/dataRetentionSettings');
      requireProperty(store, propertyId);
      return { name: `properties/${propertyId}/dataRetentionSettings`, ...store.retentionOf(propertyId) };
    });
  app.get('/v1beta/*', readRetention);
  app.get('/v1alpha/*', readRetention);

  app.post('/v1alpha/*', (request, reply) =>
    answer(reply, () => {
      const propertyId = submitPath.exec(request.url.split('?')[0] ?? '')?.[1];
      if (propertyId === undefined) throw refusal(404, 'Not Found', 'notFound');
      authorise(request, store, analyticsEditScope);
      const parsed = submitBodySchema.safeParse(request.body ?? {});
      const given = parsed.success
        ? (Object.entries(parsed.data).filter(([, value]) => value !== undefined) as [string, string][])
        : [];
      if (!parsed.success || given.length !== 1) {
        throw refusal(
          400,
          'Request contains an invalid argument: exactly one of userId, clientId, appInstanceId or userProvidedData must be set.',
          'invalidParameter',
        );
      }
      if (!/^\d+$/.test(propertyId)) throw invalid('name must be properties/{property_id}');
      requireProperty(store, propertyId);
      const [field, value] = given[0] as [string, string];
      const types: Record<string, IdentifierType> = {
        userId: 'USER_ID',
        clientId: 'CLIENT_ID',
        appInstanceId: 'APP_INSTANCE_ID',
        userProvidedData: 'USER_PROVIDED_DATA',
      };
      const type = types[field] ?? 'USER_ID';
      // An email or phone number is stored only as its hash, so the sandbox's state never shows one.
      const identifier = type === 'USER_PROVIDED_DATA' ? `sha256:${sha256Hex(value)}` : value;
      const record = store.recordDeletion(propertyId, 'admin', type, identifier);
      return { deletionRequestTime: record.deletionRequestTime };
    }),
  );
}
