import type { SandboxDefinition } from '../framework/sandbox-definition.js';
import { deletionRoutes } from './deletion-routes.js';
import { googleApiError } from './errors.js';
import { tokenRoute } from './oauth.js';
import {
  type GoogleSandboxOptions,
  GoogleSandboxStore,
  type GoogleSeedData,
  googleSeedSchema,
} from './store.js';

export type { GoogleSandboxOptions } from './store.js';

/**
 * Google Analytics' user deletion, locally: the OAuth token endpoint for service accounts, the User
 * Deletion API (analytics v3) with its per-property rate and daily quotas, and the GA4 Admin API's
 * submitUserDeletion. One root URL serves both APIs, as googleapis builds their paths from `rootUrl`.
 */
export const googleSandbox: SandboxDefinition<GoogleSandboxStore, GoogleSeedData, GoogleSandboxOptions> = {
  vendor: 'google',
  seedSchema: googleSeedSchema,
  createStore: (options) => new GoogleSandboxStore(options),
  errorReply: (status, message) => googleApiError(status, message),
  routes(app, context) {
    tokenRoute(app, context);
    deletionRoutes(app, context);
  },
};
