import { JWT } from 'google-auth-library';
import { googleTokenUrl } from './google-scopes.js';
import type { ServiceAccountKey } from './service-account.js';

export interface GoogleAuthOptions {
  key: ServiceAccountKey;
  scopes: string[];
  /** Where token requests go; Google's own URL unless a sandbox stands in. */
  tokenUrl: string;
  timeoutMs: number;
}

/**
 * google-auth-library's `JWT` for the service account. Two things are changed from the outside, through
 * the client's own transporter (gaxios) options and request interceptor, not by forking the library:
 *
 * - gtoken posts to a constant token URL (https://oauth2.googleapis.com/token; the key file's `token_uri` is
 *   not read), so the interceptor points that one URL at `tokenUrl` for the sandbox.
 * - gtoken opts its token POST in to gaxios' retries (three, with backoff). Temporal's activity retries are
 *   the one retry layer, so retries are switched off here; and every call, the token's too, gets the
 *   per-call timeout.
 */
export function createGoogleAuthClient(options: GoogleAuthOptions): JWT {
  const client = new JWT({
    email: options.key.client_email,
    key: options.key.private_key,
    keyId: options.key.private_key_id,
    scopes: options.scopes,
    transporterOptions: { timeout: options.timeoutMs, retry: false, retryConfig: { retry: 0 } },
  });
  if (options.tokenUrl !== googleTokenUrl) {
    const target = new URL(options.tokenUrl);
    client.transporter.interceptors.request.add({
      resolved: async (request) => {
        if (request.url.href === googleTokenUrl) request.url = target;
        return request;
      },
    });
  }
  return client;
}
