import { randomUUID } from 'node:crypto';
import { dynamicsConfigSchema } from '../../../connectors/dynamics/config.js';
import { createDynamicsConnector } from '../../../connectors/dynamics/connector.js';
import { createLogger } from '../../../logging/logger.js';
import {
  type DynamicsSandboxOptions,
  type DynamicsStore,
  dynamicsSandbox,
} from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

export const credentials = {
  tenantId: randomUUID(),
  clientId: randomUUID(),
  clientSecret: 'sandbox-secret-value',
};

export interface DynamicsFixture {
  sandbox: RunningSandbox<DynamicsStore>;
  control: SandboxClient;
  env(overrides?: Record<string, string>): Record<string, string>;
  connector(overrides?: Record<string, string>): ReturnType<typeof createDynamicsConnector>;
}

export const silentLogger = createLogger({ level: 'silent', format: 'json' });

/** A Dynamics sandbox plus connectors configured against it exactly as `consent-hub dev` would. */
export async function startDynamicsFixture(
  options: Partial<DynamicsSandboxOptions> = {},
): Promise<DynamicsFixture> {
  const sandbox = await startTestSandbox(dynamicsSandbox, { ...credentials, ...options });
  const env = (overrides: Record<string, string> = {}) => ({
    DYNAMICS_URL: sandbox.url,
    DYNAMICS_AUTHORITY_HOST: sandbox.url,
    DYNAMICS_TENANT_ID: credentials.tenantId,
    DYNAMICS_CLIENT_ID: credentials.clientId,
    DYNAMICS_CLIENT_SECRET: credentials.clientSecret,
    ...overrides,
  });
  return {
    sandbox,
    control: new SandboxClient(sandbox.url),
    env,
    connector: (overrides) =>
      createDynamicsConnector(dynamicsConfigSchema.parse(env(overrides)), { logger: silentLogger }),
  };
}

export const subject = (email: string) => ({ email, gaClientIds: [], gaUserIds: [] });
