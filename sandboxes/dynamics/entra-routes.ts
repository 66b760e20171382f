import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxContext } from '../framework/sandbox-definition.js';
import { entraError } from './errors.js';
import type { DynamicsStore } from './store.js';

const tokenRequestSchema = z.object({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  scope: z.string().optional(),
});

/**
 * The client's credentials from an `Authorization: Basic` header (client_secret_basic, RFC 6749 §2.3.1):
 * id and secret each form-urlencoded, joined by a colon, base64. Undefined without such a header.
 */
function basicCredentials(
  header: string | undefined,
): { id: string; secret: string } | 'malformed' | undefined {
  const encoded = /^Basic\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return undefined;
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return 'malformed';
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part.replaceAll('+', ' '));
    } catch {
      return part;
    }
  };
  return { id: decode(text.slice(0, colon)), secret: decode(text.slice(colon + 1)) };
}

/**
 * Entra ID, as much of it as `@azure/identity`'s ClientSecretCredential uses with `disableInstanceDiscovery`:
 * the tenant's OpenID metadata (MSAL reads the token endpoint from it) and the v2 token endpoint for the
 * client-credentials grant.
 */
export function entraRoutes(app: FastifyInstance, { store, baseUrl }: SandboxContext<DynamicsStore>): void {
  const orgUrl = () => (store.options.orgUrl ?? baseUrl()).replace(/\/+$/, '');

  app.get<{ Params: { tenant: string } }>(
    '/:tenant/v2.0/.well-known/openid-configuration',
    async (request, reply) => {
      const { tenant } = request.params;
      if (tenant !== store.options.tenantId) {
        return reply.code(400).send(entraError('invalid_tenant', `Tenant '${tenant}' not found.`, 90002));
      }
      const root = `${baseUrl()}/${tenant}`;
      return {
        issuer: `${baseUrl()}/${tenant}/v2.0`,
        authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
        token_endpoint: `${root}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${root}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${root}/oauth2/v2.0/logout`,
        jwks_uri: `${root}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
      };
    },
  );

  app.post<{ Params: { tenant: string } }>('/:tenant/oauth2/v2.0/token', async (request, reply) => {
    const { tenant } = request.params;
    const form = tokenRequestSchema.safeParse(request.body ?? {});
    const fail = (status: number, error: string, description: string, code: number) =>
      reply.code(status).send(entraError(error, description, code));
    if (!form.success) return fail(400, 'invalid_request', 'The request body must be a form.', 900144);
    const basic = basicCredentials(request.headers.authorization);
    if (basic === 'malformed') {
      return fail(
        401,
        'invalid_client',
        'The Authorization header is not valid client_secret_basic.',
        7000216,
      );
    }
    // RFC 6749 §2.3: a client uses one authentication method per request.
    if (basic && form.data.client_secret !== undefined) {
      return fail(
        400,
        'invalid_request',
        'The request used more than one client authentication method (client_secret_basic and client_secret_post).',
        90023,
      );
    }
    if (basic && form.data.client_id !== undefined && form.data.client_id !== basic.id) {
      return fail(
        400,
        'invalid_request',
        'The client_id in the body does not match the Authorization header.',
        90023,
      );
    }
    const body = basic ? { ...form.data, client_id: basic.id, client_secret: basic.secret } : form.data;
    if (tenant !== store.options.tenantId)
      return fail(400, 'invalid_tenant', `Tenant '${tenant}' not found.`, 90002);
    if (body.grant_type !== 'client_credentials') {
      return fail(400, 'unsupported_grant_type', 'The grant type is not supported by this sandbox.', 70003);
    }
    if (body.client_id !== store.options.clientId) {
      return fail(
        400,
        'unauthorized_client',
        `Application with identifier '${body.client_id ?? ''}' was not found in the directory '${tenant}'.`,
        700016,
      );
    }
    if (body.client_secret !== store.options.clientSecret) {
      return fail(
        401,
        'invalid_client',
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${body.client_id}'.`,
        7000215,
      );
    }
    const expectedScope = `${orgUrl()}/.default`;
    const scopes = (body.scope ?? '').split(' ').filter(Boolean);
    const resources = scopes.filter((s) => /\/\.default$/.test(s)).map((s) => s.replace(/\/+\.default$/, ''));
    if (scopes.length !== 1 || resources.length !== 1) {
      return fail(
        400,
        'invalid_scope',
        `The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (${expectedScope}).`,
        1002012,
      );
    }
    // A resource this tenant has no service principal for (another org, a typo) is AADSTS500011.
    const resource = resources[0] ?? '';
    if (`${resource.toLowerCase()}/.default` !== expectedScope.toLowerCase()) {
      return fail(
        400,
        'invalid_resource',
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
        500011,
      );
    }
    const { token, expiresIn } = store.issueToken(body.client_id);
    return { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token };
  });
}
