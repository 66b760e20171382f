import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SandboxContext, VendorErrorReply } from '../framework/sandbox-definition.js';
import { googleOAuthError } from './errors.js';
import { googleTokenUrl } from './google-facts.js';
import type { GoogleSandboxStore } from './store.js';

const jwtBearerGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google refuses assertions that live longer than an hour, and allows a few minutes of clock skew. */
const maxLifetimeSeconds = 3600;
const clockSkewSeconds = 300;

const tokenRequestSchema = z.object({ grant_type: z.string().optional(), assertion: z.string().optional() });
const headerSchema = z.object({ alg: z.string(), typ: z.string().optional(), kid: z.string().optional() });
const claimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  scope: z.string().optional(),
  iat: z.number(),
  exp: z.number(),
  sub: z.string().optional(),
});

type Verdict =
  | { ok: true; clientEmail: string; scopes: string[] }
  | { ok: false; status: number; reply: VendorErrorReply };

const refuse = (error: string, description: string, status = 400): Verdict => ({
  ok: false,
  status,
  reply: googleOAuthError(error, description),
});

function decodeSegment(segment: string): unknown {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/**
 * Checks a service account's RS256 assertion the way Google's token endpoint does: known issuer, signature
 * by that account's key, audience, lifetime and scope. The messages are Google's own wording.
 */
export function verifyAssertion(
  assertion: string,
  publicKeys: Map<string, KeyObject>,
  audiences: string[],
  now = Date.now(),
): Verdict {
  const segments = assertion.split('.');
  if (segments.length !== 3) return refuse('invalid_grant', 'Invalid JWT: Token must be a signed JWT.');
  const [headerPart = '', claimsPart = '', signaturePart = ''] = segments;
  let header: z.infer<typeof headerSchema>;
  let claims: z.infer<typeof claimsSchema>;
  try {
    header = headerSchema.parse(decodeSegment(headerPart));
    claims = claimsSchema.parse(decodeSegment(claimsPart));
  } catch {
    return refuse('invalid_grant', 'Invalid JWT: Token must be a signed JWT.');
  }
  if (header.alg !== 'RS256') return refuse('invalid_grant', 'Invalid JWT: Signing algorithm must be RS256.');
  const key = publicKeys.get(claims.iss);
  if (!key) return refuse('invalid_grant', 'Invalid grant: account not found');
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${headerPart}.${claimsPart}`),
    key,
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!signed) return refuse('invalid_grant', 'Invalid JWT Signature.');
  if (!audiences.includes(claims.aud)) return refuse('invalid_grant', 'Invalid JWT: Failed audience check.');
  const nowSeconds = Math.floor(now / 1000);
  const timeframeOk =
    claims.iat <= nowSeconds + clockSkewSeconds &&
    claims.exp > nowSeconds - clockSkewSeconds &&
    claims.exp > claims.iat &&
    claims.exp - claims.iat <= maxLifetimeSeconds;
  if (!timeframeOk) {
    return refuse(
      'invalid_grant',
      'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
    );
  }
  const scopes = (claims.scope ?? '').split(/\s+/).filter(Boolean);
  if (scopes.length === 0) {
    return refuse('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  }
  return { ok: true, clientEmail: claims.iss, scopes };
}

/** `POST /token`: swaps a signed service-account assertion for a bearer token carrying its scopes. */
export function tokenRoute(app: FastifyInstance, context: SandboxContext<GoogleSandboxStore>): void {
  const publicKeys = new Map(
    Object.entries(context.store.options.serviceAccounts).map(([email, pem]) => [
      email,
      createPublicKey(pem),
    ]),
  );
  app.post('/token', async (request, reply) => {
    const send = (status: number, body: VendorErrorReply) =>
      reply.code(status).header('content-type', body.contentType).send(JSON.stringify(body.body));
    const form = tokenRequestSchema.safeParse(request.body ?? {});
    const grantType = form.success ? form.data.grant_type : undefined;
    if (grantType !== jwtBearerGrant) {
      return send(400, googleOAuthError('unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`));
    }
    const assertion = form.success ? form.data.assertion : undefined;
    if (!assertion)
      return send(400, googleOAuthError('invalid_request', 'Missing required parameter: assertion'));
    // The library signs Google's own token URL as the audience; a client may also name this sandbox's.
    const liveKeys = new Map([...publicKeys].filter(([email]) => !context.store.revokedAccounts.has(email)));
    const verdict = verifyAssertion(assertion, liveKeys, [googleTokenUrl, `${context.baseUrl()}/token`]);
    if (!verdict.ok) return send(verdict.status, verdict.reply);
    const { token } = context.store.issueToken(verdict.clientEmail, verdict.scopes);
    return reply
      .code(200)
      .header('cache-control', 'no-cache, no-store, max-age=0, must-revalidate')
      .send({ access_token: token, expires_in: context.store.tokenLifetimeSeconds, token_type: 'Bearer' });
  });
}
