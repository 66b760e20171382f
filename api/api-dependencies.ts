import type { HubConfig } from '../config/hub-config.js';
import type { MailchimpPurposeMap } from '../connectors/mailchimp/config.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import type { AccessExportStore } from '../privacy/access-export-store.js';
import type { ApiObservability } from './api-observability.js';

/** What the API is built from; `serve` passes the real ones, tests their own. */
export interface ApiDependencies {
  hub: ConsentClientContext;
  ledger: Ledger;
  logger: Logger;
  /** Metrics and readiness checks; `serve` passes them, tests that are not about them leave them out. */
  observability?: ApiObservability;
  /** Where access exports are read from (CONSENT_HUB_EXPORT_DIR); without it the export route answers 503. */
  accessExports?: AccessExportStore;
  /** The Mailchimp purpose map (CONSENT_HUB_PURPOSE_MAP): which purposes an unsubscribe withdraws. Default: the connector's. */
  mailchimpPurposeMap?: MailchimpPurposeMap;
  config: Pick<HubConfig, 'CONSENT_HUB_API_KEYS' | 'CONSENT_HUB_MAILCHIMP_WEBHOOK_SECRET'> &
    Partial<Pick<HubConfig, 'CONSENT_HUB_IDEMPOTENCY_TTL' | 'CONSENT_HUB_API_RATE_LIMIT'>>;
}
