import type { HubConfig } from '../config/hub-config.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';

/** What the API is built from; `serve` passes the real ones, tests their own. */
export interface ApiDependencies {
  hub: ConsentClientContext;
  ledger: Ledger;
  logger: Logger;
  config: Pick<HubConfig, 'CONSENT_HUB_API_KEYS' | 'CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET'> &
    Partial<Pick<HubConfig, 'CONSENT_HUB_IDEMPOTENCY_TTL'>>;
}
