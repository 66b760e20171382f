import type { SandboxDefinition } from '../framework/sandbox-definition.js';
import { presentedKey } from './auth.js';
import { defaultProblemReply, problemReply } from './problem.js';
import { mailchimpRoutes } from './routes.js';
import {
  type MailchimpSandboxOptions,
  MailchimpSandboxStore,
  type MailchimpSeedData,
  mailchimpSeedSchema,
} from './store.js';

/**
 * A local Mailchimp Marketing API v3: audiences, members by subscriber hash, statuses and GDPR marketing
 * permissions, permanent deletion that remembers only the hash, problem+json errors, and the limit of
 * simultaneous connections per API key.
 */
export const mailchimpSandbox: SandboxDefinition<
  MailchimpSandboxStore,
  MailchimpSeedData,
  MailchimpSandboxOptions
> = {
  vendor: 'mailchimp',
  seedSchema: mailchimpSeedSchema,
  createStore: (options) => new MailchimpSandboxStore(options),
  errorReply: defaultProblemReply,
  // Counted per key before latency is added, so a slow sandbox makes the 11th simultaneous call reachable.
  admit(request, store) {
    const key = presentedKey(request);
    if (!key) return {};
    const inFlight = store.inFlight.get(key) ?? 0;
    if (inFlight >= store.options.maxConnectionsPerKey) {
      return {
        rejected: {
          status: 429,
          reply: problemReply(429, {
            title: 'TooManyRequests',
            detail: `You have exceeded the limit of ${store.options.maxConnectionsPerKey} simultaneous connections.`,
          }),
        },
      };
    }
    store.inFlight.set(key, inFlight + 1);
    return {
      release: () => {
        const now = (store.inFlight.get(key) ?? 1) - 1;
        if (now <= 0) store.inFlight.delete(key);
        else store.inFlight.set(key, now);
      },
    };
  },
  routes: mailchimpRoutes,
};
