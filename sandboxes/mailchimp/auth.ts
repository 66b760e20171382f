import type { FastifyRequest } from 'fastify';
import type { Problem } from './problem.js';
import type { MailchimpSandboxStore } from './store.js';

/** The key a request presents: Basic auth's password (any user name), or a Bearer token. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Mailchimp's own answers: a missing key, and a key that is wrong or belongs to another data centre. */
export function authProblem(request: FastifyRequest, store: MailchimpSandboxStore): Problem | undefined {
  const key = presentedKey(request);
  if (!key) {
    return {
      title: 'API Key Missing',
      detail: 'Your request did not include an API key.',
    };
  }
  const wrongDc = !key.endsWith(`-${store.options.dc}`);
  if (wrongDc || !store.options.apiKeys.includes(key)) {
    return {
      title: 'API Key Invalid',
      detail: "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    };
  }
  return undefined;
}
