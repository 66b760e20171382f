import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptVendorJson } from '../framework/lenient-json.js';
import type { SandboxContext } from '../framework/sandbox-definition.js';
import { dataverseBatchRoute } from './batch.js';
import type { ColumnType, DataverseRow, EntityDefinition } from './columns.js';
import { dataverseCodes, dataverseError } from './errors.js';
import {
  evaluateFilter,
  FilterError,
  type FilterNode,
  type OrderByItem,
  orderRows,
  parseFilter,
  parseOrderBy,
  resolveAliases,
} from './odata-filter.js';
import type { DynamicsStore } from './store.js';

export const dataverseApiPath = '/api/data/v9.2';

/** A GUID that stays the same for the same text: the ids WhoAmI reports for this sandbox's one app user. */
function stableGuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const supportedQueryOptions = new Set([
  '$select',
  '$filter',
  '$orderby',
  '$count',
  '$top',
  '$skiptoken',
  '$deltatoken',
]);
/** Dataverse counts at most this many rows for `$count=true` (query/count-rows). */
const countLimit = 5000;

type Query = Record<string, string | string[] | undefined>;

class ODataError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(reply: FastifyReply, error: ODataError) {
  const body = dataverseError(error.status, error.message, error.code);
  reply.code(error.status).header('content-type', body.contentType);
  for (const [name, value] of Object.entries({ ...body.headers, ...error.headers }))
    reply.header(name, value);
  return reply.send(JSON.stringify(body.body));
}

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A row's weak ETag: its version number, which every create and update moves on. */
const etagOf = (row: DataverseRow) => `W/"${row.versionnumber}"`;

/**
 * An `If-Match` that names ETags (not `*`) and none of them is the row's current one: the row changed
 * since the client read it (perform-conditional-operations-using-web-api).
 */
function staleIfMatch(header: string | undefined, row: DataverseRow): boolean {
  if (header === undefined || header.trim() === '*') return false;
  const tags = header.split(',').map((tag) => tag.trim());
  return !tags.includes(etagOf(row));
}

const returnsRepresentation = (request: FastifyRequest) =>
  /return=representation/i.test([request.headers.prefer ?? ''].flat().join(','));

/** `Prefer: odata.maxpagesize=N` (possibly among other preferences), or undefined. */
function preferredPageSize(header: string | string[] | undefined): number | undefined {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const match = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * Where the next page starts. The page size is not in it: Dataverse reads `Prefer: odata.maxpagesize` on
 * every request, so a next page asked for without the header comes in the default size (page-results).
 */
interface SkipToken {
  offset: number;
  /** Change tracking: the version the read stops at, fixed on its first page so pages agree. */
  upTo?: number;
  /** A delta read: the version its token was minted at (changes after it are listed). */
  from?: number;
}

function encodeSkipToken(token: SkipToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeSkipToken(text: string): SkipToken {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as SkipToken;
    if (Number.isInteger(token.offset) && token.offset >= 0) return token;
  } catch {
    // Falls through to the error below.
  }
  throw new ODataError(400, 'The $skiptoken value is not valid.');
}

/** Dataverse's delta tokens read `<version>!<when minted>`; the sandbox keeps that shape. */
function encodeDeltaToken(version: number, issuedAtMs: number): string {
  return `${version}!${new Date(issuedAtMs).toISOString()}`;
}

function decodeDeltaToken(text: string): { version: number; issuedAtMs: number } | undefined {
  const [version, issued] = text.split('!');
  const parsedVersion = Number(version);
  const issuedAtMs = Date.parse(issued ?? '');
  if (!Number.isInteger(parsedVersion) || Number.isNaN(issuedAtMs)) return undefined;
  return { version: parsedVersion, issuedAtMs };
}

const changeTrackingRefused = new Set(['$filter', '$orderby', '$top', '$expand', '$apply']);

/**
 * The Dataverse Web API for `contacts` and `leads`: bearer tokens from the sandbox's Entra, the OData
 * headers, privilege checks, `$select`/`$filter`/`$top`, server-driven paging, and create, update (with
 * `If-Match: *` never creating) and delete by key.
 */
export function dataverseRoutes(
  app: FastifyInstance,
  { store, baseUrl }: SandboxContext<DynamicsStore>,
): void {
  const apiRoot = () => `${baseUrl()}${dataverseApiPath}`;

  const authorise = (request: FastifyRequest) => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token || !store.tokenOwner(token)) {
      const resource = store.options.orgUrl ?? baseUrl();
      throw new ODataError(
        401,
        'The access token is missing, invalid or has expired.',
        dataverseCodes.unauthorized,
        {
          'www-authenticate': `Bearer authorization_uri=${baseUrl()}/${store.options.tenantId}/oauth2/authorize, resource_id=${resource}`,
        },
      );
    }
    const maxVersion = request.headers['odata-maxversion'];
    const version = request.headers['odata-version'];
    if (maxVersion !== '4.0' || version !== '4.0') {
      throw new ODataError(400, 'The OData-MaxVersion and OData-Version request headers must both be 4.0.');
    }
  };

  const requirePrivilege = (action: 'Read' | 'Create' | 'Write' | 'Delete', entity: EntityDefinition) => {
    const privilege = `prv${action}${entity.logicalName}`;
    if (store.deniedPrivileges.has(privilege)) {
      throw new ODataError(
        403,
        `Principal user (Id=${store.options.clientId}, type=8, roleCount=1) is missing ${privilege} privilege on entity '${entity.logicalName}'. The application user lacks the ${action} privilege on ${entity.logicalName}.`,
        dataverseCodes.privilegeDenied,
      );
    }
  };

  const resolve = (rest: string): { entity: EntityDefinition; id?: string } => {
    const match = /^([A-Za-z_]+)(?:\(([^)]*)\))?$/.exec(rest);
    const entity = match ? store.entities[match[1] ?? ''] : undefined;
    if (!match || !entity) {
      throw new ODataError(404, `Resource not found for the segment '${rest.split('(')[0]}'.`, '0x8006088a');
    }
    const id = match[2];
    if (id !== undefined && !guidPattern.test(id)) {
      throw new ODataError(400, `Bad Request - Error in query syntax: '${id}' is not a valid key.`);
    }
    return { entity, id: id?.toLowerCase() };
  };

  const represent = (entity: EntityDefinition, row: DataverseRow, select?: string[]) => {
    const columns = select ? [...new Set([...select, entity.idColumn])] : Object.keys(row);
    return {
      '@odata.etag': etagOf(row),
      ...Object.fromEntries(columns.map((c) => [c, row[c] ?? null])),
    };
  };

  const parseSelect = (entity: EntityDefinition, text: string | undefined): string[] | undefined => {
    if (text === undefined) return undefined;
    const columns = text.split(',').map((c) => c.trim());
    for (const column of columns) {
      if (!entity.columns[column]) {
        throw new ODataError(
          400,
          `Could not find a property named '${column}' on type 'Microsoft.Dynamics.CRM.${entity.logicalName}'.`,
        );
      }
    }
    return columns;
  };

  const parseFilterOption = (entity: EntityDefinition, text: string | undefined): FilterNode | undefined => {
    if (text === undefined) return undefined;
    try {
      return parseFilter(text, entity.columns, `Microsoft.Dynamics.CRM.${entity.logicalName}`);
    } catch (error) {
      if (error instanceof FilterError) throw new ODataError(400, error.message, dataverseCodes.badRequest);
      throw error;
    }
  };

  /** The filter with its parameter aliases (`@p1` ... given as query parameters) put in place. */
  const withAliases = (query: Query, text: string | undefined): string | undefined => {
    if (text === undefined) return undefined;
    const aliases = Object.fromEntries(
      Object.keys(query)
        .filter((name) => name.startsWith('@'))
        .map((name) => [name, single(query, name)]),
    );
    try {
      return resolveAliases(text, aliases);
    } catch (error) {
      if (error instanceof FilterError) throw new ODataError(400, error.message, dataverseCodes.badRequest);
      throw error;
    }
  };

  const parseOrderByOption = (entity: EntityDefinition, text: string | undefined): OrderByItem[] => {
    if (text === undefined) return [];
    try {
      return parseOrderBy(text, entity.columns, `Microsoft.Dynamics.CRM.${entity.logicalName}`);
    } catch (error) {
      if (error instanceof FilterError) throw new ODataError(400, error.message, dataverseCodes.badRequest);
      throw error;
    }
  };

  const list = (request: FastifyRequest, entity: EntityDefinition) => {
    const query = request.query as Query;
    const preferText = [request.headers.prefer ?? ''].flat().join(',');
    const trackingEnabled = store.options.changeTrackingTables.includes(entity.entitySet);
    const deltaText = single(query, '$deltatoken');
    // Dataverse ignores the preference on a table without change tracking and answers a plain read.
    const trackRequested = /odata\.track-changes/i.test(preferText) && trackingEnabled;
    if (trackRequested || deltaText !== undefined) {
      const refused = Object.keys(query).filter((name) => changeTrackingRefused.has(name));
      if (refused.length > 0) {
        throw new ODataError(
          400,
          `The query options ${refused.join(', ')} are not supported with change tracking; only $select is.`,
        );
      }
    }
    for (const name of Object.keys(query)) {
      if (name.startsWith('$') && !supportedQueryOptions.has(name)) {
        throw new ODataError(400, `The query parameter ${name} is not supported.`);
      }
    }
    const select = parseSelect(entity, single(query, '$select'));
    const filterText = withAliases(query, single(query, '$filter'));
    const filter = parseFilterOption(entity, filterText);
    const orderText = single(query, '$orderby');
    const orderBy = parseOrderByOption(entity, orderText);
    const countText = single(query, '$count');
    if (countText !== undefined && countText !== 'true' && countText !== 'false') {
      throw new ODataError(400, `The $count value '${countText}' is not valid; use true or false.`);
    }
    const preferred = preferredPageSize(request.headers.prefer);
    const topText = single(query, '$top');
    // With `Prefer: odata.maxpagesize`, Dataverse ignores $top and pages through every row (page-results).
    const top = topText === undefined || preferred !== undefined ? undefined : Number(topText);
    if (topText !== undefined && !(Number.isInteger(Number(topText)) && Number(topText) >= 0)) {
      throw new ODataError(400, `The $top value '${topText}' is not a non-negative integer.`);
    }
    const skipText = single(query, '$skiptoken');
    const skip = skipText ? decodeSkipToken(skipText) : undefined;
    // A preference above the largest page is ignored, not refused.
    const pageSize =
      preferred !== undefined && preferred > 0 && preferred <= store.options.maxPageSize
        ? preferred
        : store.options.maxPageSize;

    let from = skip?.from;
    let upTo = skip?.upTo;
    if (!skip && deltaText !== undefined) {
      const token = decodeDeltaToken(deltaText);
      if (!trackingEnabled || !token || !store.deltaVersionValid(token.version, token.issuedAtMs)) {
        throw new ODataError(
          400,
          'Version stamp associated with the client has expired. Please perform a full sync.',
          dataverseCodes.expiredVersionStamp,
        );
      }
      from = token.version;
      upTo = store.currentVersion;
    } else if (!skip && trackRequested) {
      upTo = store.currentVersion;
    }
    const tracked = upTo !== undefined;

    const table = [...store.table(entity.entitySet).values()];
    let matching: Record<string, unknown>[];
    if (from !== undefined && upTo !== undefined) {
      const low = from;
      const high = upTo;
      const inRange = (version: number) => version > low && version <= high;
      const changed = table
        .filter((row) => inRange(Number(row.versionnumber)))
        .map((row) => ({ version: Number(row.versionnumber), item: represent(entity, row, select) }));
      const deleted = (store.deletions.get(entity.entitySet) ?? [])
        .filter((d) => inRange(d.version))
        .map((d) => ({
          version: d.version,
          item: {
            '@odata.context': `${apiRoot()}/$metadata#${entity.entitySet}/$deletedEntity`,
            id: d.id,
            reason: 'deleted',
          },
        }));
      matching = [...changed, ...deleted].sort((a, b) => a.version - b.version).map((c) => c.item);
    } else {
      const byRequest = orderRows(orderBy);
      matching = table
        .filter((row) => !filter || evaluateFilter(filter, row))
        .sort(
          (a, b) =>
            byRequest(a, b) ||
            String(a.createdon).localeCompare(String(b.createdon)) ||
            String(a[entity.idColumn]).localeCompare(String(b[entity.idColumn])),
        )
        .slice(0, top)
        .map((row) => represent(entity, row, select));
    }
    const offset = skip?.offset ?? 0;
    const page = matching.slice(offset, offset + pageSize);
    const selectPart = select ? `(${select.join(',')})` : '';
    const body: Record<string, unknown> = {
      '@odata.context': `${apiRoot()}/$metadata#${entity.entitySet}${selectPart}${tracked ? '/$delta' : ''}`,
      ...(countText === 'true' ? { '@odata.count': Math.min(matching.length, countLimit) } : {}),
      value: page,
    };
    const link = (parts: [string, string | undefined][]) =>
      `${apiRoot()}/${entity.entitySet}?${parts
        .filter((p): p is [string, string] => p[1] !== undefined)
        .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
        .join('&')}`;
    if (offset + pageSize < matching.length) {
      body['@odata.nextLink'] = link([
        ['$select', single(query, '$select')],
        ['$filter', filterText],
        ['$orderby', orderText],
        ['$count', countText],
        ['$top', top === undefined ? undefined : topText],
        [
          '$skiptoken',
          encodeSkipToken({
            offset: offset + pageSize,
            ...(upTo !== undefined ? { upTo } : {}),
            ...(from !== undefined ? { from } : {}),
          }),
        ],
      ]);
    } else if (upTo !== undefined) {
      body['@odata.deltaLink'] = link([
        ['$select', single(query, '$select')],
        ['$deltatoken', encodeDeltaToken(upTo, store.changeTrackingNow())],
      ]);
    }
    const applied = [
      ...(trackRequested ? ['odata.track-changes'] : []),
      ...(preferred === undefined ? [] : [`odata.maxpagesize=${pageSize}`]),
    ];
    return { body, applied };
  };

  const handle =
    (
      work: (
        request: FastifyRequest,
        reply: FastifyReply,
        target: { entity: EntityDefinition; id?: string },
      ) => unknown,
    ) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        authorise(request);
        const target = resolve((request.params as { '*': string })['*']);
        reply.header('odata-version', '4.0');
        return await work(request, reply, target);
      } catch (error) {
        if (error instanceof ODataError) return send(reply, error);
        throw error;
      }
    };

  /** Dataverse's answer to a stale ETag (perform-conditional-operations-using-web-api). */
  const versionMismatch = () =>
    new ODataError(
      412,
      "The version of the existing record doesn't match the RowVersion property provided.",
      dataverseCodes.concurrency,
    );

  const notFound = (entity: EntityDefinition, id: string) =>
    new ODataError(404, `${entity.logicalName} With Id = ${id} Does Not Exist`, dataverseCodes.notFound);

  app.register(
    async (scope) => {
      // Dataverse answers malformed JSON with its own 400, and a DELETE may carry a JSON content type
      // with no body at all.
      acceptVendorJson(scope, () =>
        Object.assign(new Error('The request body is not valid JSON.'), { statusCode: 400 }),
      );

      dataverseBatchRoute(scope, {
        store,
        apiPath: dataverseApiPath,
        authorised: (request) => {
          try {
            authorise(request);
            return true;
          } catch {
            return false;
          }
        },
      });

      // The unbound function WhoAmI (webapi/reference/whoami): the calling user's, business unit's and
      // organization's ids, and nothing about anyone else; the cheapest call that needs a valid token.
      scope.get('/WhoAmI', async (request, reply) => {
        try {
          authorise(request);
          reply.header('odata-version', '4.0');
          return reply.header('content-type', 'application/json; odata.metadata=minimal').send({
            '@odata.context': `${apiRoot()}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
            BusinessUnitId: stableGuid(`business-unit|${store.options.tenantId}`),
            UserId: stableGuid(`application-user|${store.options.clientId}`),
            OrganizationId: stableGuid(`organization|${store.options.tenantId}`),
          });
        } catch (error) {
          if (error instanceof ODataError) return send(reply, error);
          throw error;
        }
      });

      scope.get(
        '/*',
        handle((request, reply, { entity, id }) => {
          requirePrivilege('Read', entity);
          const query = request.query as Query;
          if (id) {
            const row = store.table(entity.entitySet).get(id);
            if (!row) throw notFound(entity, id);
            // A client holding the current version gets 304 and no body (conditional retrieval).
            const ifNoneMatch = request.headers['if-none-match'];
            if (ifNoneMatch?.split(',').some((tag) => tag.trim() === etagOf(row))) {
              return reply.code(304).header('etag', etagOf(row)).send();
            }
            const select = parseSelect(entity, single(query, '$select'));
            return reply.header('content-type', 'application/json; odata.metadata=minimal').send({
              '@odata.context': `${apiRoot()}/$metadata#${entity.entitySet}/$entity`,
              ...represent(entity, row, select),
            });
          }
          const { body, applied } = list(request, entity);
          if (applied.length > 0) reply.header('preference-applied', applied.join(','));
          return reply.header('content-type', 'application/json; odata.metadata=minimal').send(body);
        }),
      );

      // Table definitions: EntityDefinitions(LogicalName='<table>') and its Attributes, each with its
      // localized DisplayName (webapi/query-metadata-web-api). MetadataId is always returned.
      scope.get('/EntityDefinitions*', async (request, reply) => {
        try {
          authorise(request);
          reply.header('odata-version', '4.0');
          const rest = (request.params as { '*': string })['*'];
          const match = /^\(LogicalName='([a-z_0-9]+)'\)(\/Attributes)?$/.exec(decodeURIComponent(rest));
          if (!match) {
            throw new ODataError(
              400,
              "Bad Request - Error in query syntax: address a table definition as EntityDefinitions(LogicalName='<table>').",
            );
          }
          const entity = Object.values(store.entities).find((e) => e.logicalName === match[1]);
          if (!entity) {
            throw new ODataError(
              404,
              `Could not find entity with name '${match[1]}'.`,
              dataverseCodes.notFound,
            );
          }
          const selectText = single(request.query as Query, '$select');
          const send200 = (body: Record<string, unknown>) =>
            reply.header('content-type', 'application/json; odata.metadata=minimal').send(body);
          if (match[2]) {
            const attributes = attributeDefinitions(entity);
            const select = parseMetadataSelect(selectText, Object.keys(attributes[0] ?? {}));
            return send200({
              '@odata.context': `${apiRoot()}/$metadata#EntityDefinitions('${entity.logicalName}')/Attributes${select ? `(${select.join(',')})` : ''}`,
              value: attributes.map((a) => pick(a, select)),
            });
          }
          const definition = {
            MetadataId: metadataId(entity.logicalName),
            LogicalName: entity.logicalName,
            EntitySetName: entity.entitySet,
            PrimaryIdAttribute: entity.idColumn,
            DisplayName: localizedLabel(entity.displayName, entity.logicalName),
          };
          const select = parseMetadataSelect(selectText, Object.keys(definition));
          return send200({
            '@odata.context': `${apiRoot()}/$metadata#EntityDefinitions${select ? `(${select.join(',')})` : ''}/$entity`,
            ...pick(definition, select),
          });
        } catch (error) {
          if (error instanceof ODataError) return send(reply, error);
          throw error;
        }
      });

      // An unbound action: POST /DeleteRecordChangeHistory {"Target": {"@odata.type":
      // "Microsoft.Dynamics.CRM.<table>", "<table>id": "<guid>"}} answers 200 with DeletedEntriesCount
      // (webapi/reference/deleterecordchangehistory; auditing/delete-audit-data).
      scope.post('/DeleteRecordChangeHistory', async (request, reply) => {
        try {
          authorise(request);
          reply.header('odata-version', '4.0');
          const target = (request.body as { Target?: Record<string, unknown> } | null)?.Target;
          if (!target || typeof target !== 'object') {
            throw new ODataError(400, "The parameter 'Target' is required for DeleteRecordChangeHistory.");
          }
          const type = /^Microsoft\.Dynamics\.CRM\.([a-z_]+)$/.exec(String(target['@odata.type'] ?? ''))?.[1];
          const entity = Object.values(store.entities).find((e) => e.logicalName === type);
          if (!entity) {
            throw new ODataError(
              400,
              `The Target's @odata.type '${String(target['@odata.type'] ?? '')}' does not name a table (Microsoft.Dynamics.CRM.<table>).`,
            );
          }
          const id = target[entity.idColumn];
          if (typeof id !== 'string' || !guidPattern.test(id)) {
            throw new ODataError(400, `The Target must carry the record's ${entity.idColumn} as a GUID.`);
          }
          if (store.deniedPrivileges.has('prvDeleteRecordChangeHistory')) {
            throw new ODataError(
              403,
              `Principal user (Id=${store.options.clientId}, type=8, roleCount=1) is missing prvDeleteRecordChangeHistory privilege. The System Administrator role or a role with prvDeleteRecordChangeHistory can delete audit history.`,
              dataverseCodes.privilegeDenied,
            );
          }
          const deleted = store.deleteRecordChangeHistory(entity.logicalName, id);
          return reply.header('content-type', 'application/json; odata.metadata=minimal').send({
            '@odata.context': `${apiRoot()}/$metadata#Microsoft.Dynamics.CRM.DeleteRecordChangeHistoryResponse`,
            DeletedEntriesCount: deleted,
          });
        } catch (error) {
          if (error instanceof ODataError) return send(reply, error);
          throw error;
        }
      });

      scope.post(
        '/*',
        handle((request, reply, { entity, id }) => {
          if (id) throw new ODataError(405, 'POST is not allowed on a single record; use PATCH.');
          requirePrivilege('Create', entity);
          const values = request.body;
          if (!values || typeof values !== 'object' || Array.isArray(values)) {
            throw new ODataError(400, 'The request body must be a JSON object.');
          }
          const givenId = (values as Record<string, unknown>)[entity.idColumn];
          if (typeof givenId === 'string' && store.table(entity.entitySet).has(givenId.toLowerCase())) {
            throw new ODataError(412, 'A record with matching key values already exists.', '0x80040237');
          }
          const row = store.create(entity.entitySet, values as Record<string, unknown>);
          const location = `${apiRoot()}/${entity.entitySet}(${row[entity.idColumn]})`;
          reply.header('odata-entityid', location).header('location', location);
          if (returnsRepresentation(request)) {
            return reply.code(201).send(represent(entity, row));
          }
          return reply.code(204).send();
        }),
      );

      scope.patch(
        '/*',
        handle((request, reply, { entity, id }) => {
          if (!id) throw new ODataError(405, 'PATCH needs a record key.');
          const values = request.body;
          if (!values || typeof values !== 'object' || Array.isArray(values)) {
            throw new ODataError(400, 'The request body must be a JSON object.');
          }
          const existing = store.table(entity.entitySet).get(id);
          const ifMatch = request.headers['if-match'];
          const ifNoneMatch = request.headers['if-none-match'];
          let row: DataverseRow;
          if (existing) {
            if (ifNoneMatch === '*')
              throw new ODataError(412, 'A record with matching key values already exists.', '0x80040237');
            if (staleIfMatch(ifMatch, existing)) throw versionMismatch();
            requirePrivilege('Write', entity);
            row = store.update(entity.entitySet, id, values as Record<string, unknown>) ?? existing;
          } else {
            // Any If-Match turns an upsert into an update: a missing row is 404 and nothing is created.
            if (ifMatch !== undefined) throw notFound(entity, id);
            requirePrivilege('Create', entity);
            row = store.create(entity.entitySet, {
              ...(values as Record<string, unknown>),
              [entity.idColumn]: id,
            });
          }
          reply.header('odata-entityid', `${apiRoot()}/${entity.entitySet}(${id})`);
          if (returnsRepresentation(request)) {
            // Update with data returned: 200 and the row, limited by $select (update-delete-entities-using-web-api).
            const select = parseSelect(entity, single(request.query as Query, '$select'));
            return reply
              .code(existing ? 200 : 201)
              .header('content-type', 'application/json; odata.metadata=minimal')
              .send({
                '@odata.context': `${apiRoot()}/$metadata#${entity.entitySet}/$entity`,
                ...represent(entity, row, select),
              });
          }
          return reply.code(204).send();
        }),
      );

      scope.delete(
        '/*',
        handle((request, reply, { entity, id }) => {
          if (!id) throw new ODataError(405, 'DELETE needs a record key.');
          requirePrivilege('Delete', entity);
          const existing = store.table(entity.entitySet).get(id);
          if (!existing) throw notFound(entity, id);
          if (staleIfMatch(request.headers['if-match'], existing)) throw versionMismatch();
          store.remove(entity.entitySet, id);
          return reply.code(204).send();
        }),
      );
    },
    { prefix: dataverseApiPath },
  );
}

/** A stable GUID for a definition, as Dataverse's MetadataId is stable per org. */
function metadataId(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Dataverse's Label: every language's label, and the one in the calling user's language. */
function localizedLabel(text: string, owner: string) {
  const label = {
    Label: text,
    LanguageCode: 1033,
    IsManaged: true,
    MetadataId: metadataId(`label:${owner}`),
    HasChanged: null,
  };
  return { LocalizedLabels: [label], UserLocalizedLabel: label };
}

const attributeTypes: Record<ColumnType, { odataType: string; attributeType: string }> = {
  string: { odataType: '#Microsoft.Dynamics.CRM.StringAttributeMetadata', attributeType: 'String' },
  boolean: { odataType: '#Microsoft.Dynamics.CRM.BooleanAttributeMetadata', attributeType: 'Boolean' },
  guid: { odataType: '#Microsoft.Dynamics.CRM.AttributeMetadata', attributeType: 'Uniqueidentifier' },
  datetime: { odataType: '#Microsoft.Dynamics.CRM.DateTimeAttributeMetadata', attributeType: 'DateTime' },
  integer: { odataType: '#Microsoft.Dynamics.CRM.BigIntAttributeMetadata', attributeType: 'BigInt' },
};

/** A table's attributes: a lookup read as `_x_value` is the attribute `x`, of type Lookup. */
function attributeDefinitions(entity: EntityDefinition): Record<string, unknown>[] {
  return Object.entries(entity.columns).map(([column, type]) => {
    const lookup = /^_([a-z_]+)_value$/.exec(column)?.[1];
    const logicalName = lookup ?? column;
    const kind = lookup
      ? { odataType: '#Microsoft.Dynamics.CRM.LookupAttributeMetadata', attributeType: 'Lookup' }
      : attributeTypes[type];
    return {
      '@odata.type': kind.odataType,
      MetadataId: metadataId(`${entity.logicalName}.${logicalName}`),
      LogicalName: logicalName,
      SchemaName: logicalName,
      AttributeType: kind.attributeType,
      DisplayName: localizedLabel(
        entity.columnLabels[logicalName] ?? logicalName,
        `${entity.logicalName}.${logicalName}`,
      ),
    };
  });
}

/** `$select` on a definition: known properties only (400 otherwise); MetadataId always comes back. */
function parseMetadataSelect(text: string | undefined, known: string[]): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!known.includes(name))
      throw new ODataError(
        400,
        `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.`,
      );
  }
  return names;
}

function pick(value: Record<string, unknown>, select: string[] | undefined): Record<string, unknown> {
  if (!select) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => k === 'MetadataId' || k === '@odata.type' || select.includes(k)),
  );
}
