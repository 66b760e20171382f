import type { SandboxDefinition } from '../framework/sandbox-definition.js';
import { isBatchPart } from './batch.js';
import { dataverseApiPath, dataverseRoutes } from './dataverse-routes.js';
import { entraRoutes } from './entra-routes.js';
import { dataverseCodes, dataverseError } from './errors.js';
import {
  type DynamicsSandboxOptions,
  type DynamicsSeed,
  DynamicsStore,
  dynamicsSeedSchema,
} from './store.js';

export type { DynamicsSandboxOptions, DynamicsSeed } from './store.js';
export { DynamicsStore } from './store.js';

/**
 * Dynamics 365 on one local HTTPS port: Entra ID's token endpoint and metadata, and the Dataverse Web API
 * under /api/data/v9.2/, so that the connector's real SDKs (@azure/identity and the Graph client) run
 * unchanged against it with DYNAMICS_URL and DYNAMICS_AUTHORITY_HOST both set to the sandbox's URL.
 */
export const dynamicsSandbox: SandboxDefinition<DynamicsStore, DynamicsSeed, DynamicsSandboxOptions> = {
  vendor: 'dynamics',
  seedSchema: dynamicsSeedSchema,
  createStore: (options) => new DynamicsStore(options),
  errorReply: (status, message) => dataverseError(status, message),

  // Service protection applies to the Web API per application user, not to Entra's endpoints.
  admit(request, store) {
    if (!request.url.startsWith(`${dataverseApiPath}/`)) return {};
    const part = isBatchPart(request);
    // "The maximum length of URL accepted is 32 KB (32768 characters) ... If you send requests inside the
    // body of a $batch request, you can send requests with URLs up to 64 KB (65,536 characters)"
    // (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors,
    // "Maximum URL length"). The page gives no status for a longer one; HTTP's is 414 URI Too Long.
    const urlLength = `https://${request.headers.host ?? 'localhost'}${request.url}`.length;
    const maxUrl = part ? 65_536 : 32_768;
    if (urlLength > maxUrl) {
      return {
        rejected: {
          status: 414,
          reply: dataverseError(
            414,
            `The request URL is ${urlLength} characters long; at most ${maxUrl} are accepted${part ? ' inside a $batch' : ' (up to 65,536 inside a $batch)'}.`,
          ),
        },
      };
    }
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const user = (token && store.tokenOwner(token)) || 'anonymous';
    const envelope = !part && request.url.split('?')[0] === `${dataverseApiPath}/$batch`;
    const admitted = store.admitRequest(user, { counted: !envelope, concurrent: !part });
    if ('release' in admitted) return { release: admitted.release };
    const { limit, retryAfterSeconds } = admitted;
    const reply =
      limit === 'concurrency'
        ? dataverseError(
            429,
            `Number of concurrent requests exceeded the limit of ${store.options.maxConcurrent}.`,
            dataverseCodes.concurrencyLimit,
          )
        : dataverseError(
            429,
            `Number of requests exceeded the limit of ${store.options.requestsPerWindow} over time window of ${store.options.windowSeconds} seconds.`,
            dataverseCodes.requestLimit,
          );
    reply.headers = { ...reply.headers, 'retry-after': String(retryAfterSeconds) };
    return { rejected: { status: 429, reply } };
  },

  isInnerRequest: isBatchPart,

  routes(app, context) {
    entraRoutes(app, context);
    dataverseRoutes(app, context);
  },
};
