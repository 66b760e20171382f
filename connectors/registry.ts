import { ConfigError, parseEnv } from '../config/parse-env.js';
import { loadPurposeMap, type PurposeMap } from '../config/purpose-map.js';
import type { Logger } from '../logging/logger.js';
import type { ConnectorSet } from './connector.js';
import { dynamicsConfigSchema, isDynamicsConfigured } from './dynamics/config.js';
import { createDynamicsConnector } from './dynamics/connector.js';
import { googleConfigSchema, isGoogleConfigured } from './google/config.js';
import { createGoogleConnector } from './google/connector.js';
import { isMailchimpConfigured, mailchimpConfigSchema } from './mailchimp/config.js';
import { createMailchimpConnector } from './mailchimp/connector.js';
import { createNoopConnector } from './noop/noop-connector.js';

export interface BuiltConnectors {
  connectors: ConnectorSet;
  /** Which systems run against a configured vendor (sandbox or real); the rest are absent. */
  configured: string[];
  /** The purpose map in force (CONSENT_HUB_PURPOSE_MAP, or the connectors' defaults where it is empty). */
  purposeMap: PurposeMap;
  close(): Promise<void>;
}

/** Empty strings count as unset, as docker-compose passes `${VAR:-}` through as "". */
function withoutEmpty(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

/**
 * Builds one connector per vendor whose main variable is present. A vendor left out is not configured on
 * this worker: its activities fail non-retryably with a message that says so, and an erasure waits for an
 * operator instead of pretending. A vendor that is present but misconfigured stops the worker at start,
 * with every problem named, rather than failing requests later.
 */
export function buildConnectors(rawEnv: NodeJS.ProcessEnv, logger: Logger): BuiltConnectors {
  const env = withoutEmpty(rawEnv);
  let purposeMap: PurposeMap = {};
  const connectors: ConnectorSet = { noop: createNoopConnector() };
  const closers: (() => Promise<void>)[] = [];
  const problems: string[] = [];
  const attempt = (build: () => void) => {
    try {
      build();
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else throw error;
    }
  };

  attempt(() => {
    purposeMap = loadPurposeMap(env);
  });
  if (isDynamicsConfigured(env)) {
    attempt(() => {
      const config = parseEnv(dynamicsConfigSchema, env);
      const dynamics = createDynamicsConnector(
        { ...config, purposeColumns: purposeMap.dynamics ?? config.purposeColumns },
        { logger },
      );
      connectors.dynamics = dynamics;
      closers.push(dynamics.close);
    });
  }
  if (isMailchimpConfigured(env)) {
    attempt(() => {
      const config = parseEnv(mailchimpConfigSchema, env);
      connectors.mailchimp = createMailchimpConnector(
        { ...config, purposeMap: purposeMap.mailchimp ?? config.purposeMap },
        { logger },
      );
    });
  }
  if (isGoogleConfigured(env)) {
    attempt(() => {
      connectors.google = createGoogleConnector(parseEnv(googleConfigSchema, env), { logger });
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const configured = (['dynamics', 'mailchimp', 'google'] as const).filter((system) => connectors[system]);
  const missing = (['dynamics', 'mailchimp', 'google'] as const).filter((system) => !connectors[system]);
  if (missing.length > 0) logger.warn({ missing }, 'some systems are not configured on this worker');
  return {
    connectors,
    configured,
    purposeMap,
    close: async () => {
      for (const close of closers) await close();
    },
  };
}
