import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { ClientSecretCredential } from '@azure/identity';
import {
  AuthenticationHandler,
  type AuthenticationProvider,
  Client,
  type Context,
  type Middleware,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import type { DynamicsConfig } from './config.js';
import { DynamicsTransportFailure } from './errors.js';

/**
 * Holds the ClientSecretCredential and can swap it for a new one. MSAL caches a token until shortly before
 * the expiry it was told; when Dataverse refuses a token early (revoked, clock skew), a new credential is
 * the supported way to get a fresh token without sending made-up claims to Entra.
 */
export class RenewableCredential implements TokenCredential {
  private credential: ClientSecretCredential;

  constructor(private readonly config: DynamicsConfig) {
    this.credential = this.create();
  }

  private create(): ClientSecretCredential {
    return new ClientSecretCredential(this.config.tenantId, this.config.clientId, this.config.clientSecret, {
      authorityHost: this.config.authorityHost,
      // Instance discovery asks login.microsoftonline.com which authorities exist; a sovereign cloud or a
      // sandbox authority is not in that list, and the tenant's own metadata is enough.
      disableInstanceDiscovery: true,
      // @azure/identity's HTTP pipeline would retry token requests itself; Temporal's activity retries are
      // the one retry layer, so a failed token request fails the call at once.
      retryOptions: { maxRetries: 0 },
    });
  }

  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    return this.credential.getToken(scopes, options);
  }

  renew(): void {
    this.credential = this.create();
  }
}

/** Keeps a token failure intact: the Graph client would otherwise reduce it to a message. */
class TokenFailureKeepingProvider implements AuthenticationProvider {
  constructor(private readonly inner: AuthenticationProvider) {}
  async getAccessToken(): Promise<string> {
    try {
      return await this.inner.getAccessToken();
    } catch (error) {
      throw new DynamicsTransportFailure('token', error);
    }
  }
}

/** The last link of the chain: fetch with a per-call timeout, keeping network failures intact. */
class TimedFetchHandler implements Middleware {
  constructor(private readonly timeoutMs: number) {}
  async execute(context: Context): Promise<void> {
    try {
      context.response = await fetch(context.request, {
        ...(context.options as RequestInit),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new DynamicsTransportFailure('http', error, this.timeoutMs);
    }
  }
}

export interface DataverseClient {
  client: Client;
  credential: RenewableCredential;
  /** `<org>/api/data/v9.2`, which every `@odata.nextLink` must start with. */
  apiRoot: string;
}

/**
 * The Graph client pointed at Dataverse. The middleware chain is the default one without RetryHandler and
 * RedirectHandler: the RetryHandler retries 429/503/504 up to three times, and Temporal retries the whole
 * activity too, so a throttled call would be sent up to 4 × (activity attempts) times and the Retry-After
 * would be spent waiting inside one attempt. Temporal's activity retries are the one retry layer; the
 * connector throws a RetryableVendorError carrying Retry-After and Temporal waits.
 */
export function createDataverseClient(config: DynamicsConfig): DataverseClient {
  const credential = new RenewableCredential(config);
  const authProvider = new TokenFailureKeepingProvider(
    new TokenCredentialAuthenticationProvider(credential, { scopes: [`${config.url}/.default`] }),
  );
  const client = Client.initWithMiddleware({
    baseUrl: `${config.url}/api/data`,
    defaultVersion: 'v9.2',
    // The bearer token goes only to the org's host (the port is ignored when matching).
    customHosts: new Set([new URL(config.url).hostname]),
    middleware: [
      new AuthenticationHandler(authProvider),
      new TelemetryHandler(),
      new TimedFetchHandler(config.timeoutMs),
    ],
    fetchOptions: {
      headers: {
        Accept: 'application/json',
        'OData-MaxVersion': '4.0',
        'OData-Version': '4.0',
      },
    },
  });
  return { client, credential, apiRoot: `${config.url}/api/data/v9.2` };
}
