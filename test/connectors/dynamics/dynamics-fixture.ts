import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { BulkStatePlan, BulkStateRequest } from '../../../connectors/connector.js';
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

/** The n-th row id of a seeded table: a fixed GUID, so a test names rows it seeded by number. */
export const rowId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** One person's opt-out from marketing email (no evidence) as a bulk plan's request, keyed `key`. */
export const bulkOptOut = (email: string, key = email): BulkStateRequest => ({
  key,
  subject: subject(email),
  request: {
    decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
    changed: ['marketing_email'],
  },
});

/** The rows a person's plan writes, as sorted `kind:id`; a plan without writes (or none) as it is. */
export const plannedRows = (plan: BulkStatePlan | undefined) =>
  plan && 'writes' in plan ? plan.writes.map((w) => `${w.record.kind}:${w.record.id}`).sort() : plan;

/**
 * Gives the enclosing describe one fixture (startDynamicsFixture), handed to `started` before its tests, its
 * sandbox emptied of rows, requests and faults before each test, and closed after them.
 */
export function withDynamicsFixture(started: (fixture: DynamicsFixture) => void): void {
  let fixture: DynamicsFixture | undefined;
  beforeAll(async () => {
    fixture = await startDynamicsFixture();
    started(fixture);
  });
  afterAll(() => fixture?.sandbox.close());
  beforeEach(async () => {
    await fixture?.control.reset();
    await fixture?.control.clearFaults();
  });
}

/** Contact rows for `emails` in emailaddress1, not opted out, the n-th with id rowId(n). */
export const contactRows = (emails: string[]) =>
  emails.map((email, n) => ({ contactid: rowId(n), emailaddress1: email, donotbulkemail: false }));

/** The plans of one bulk read of `people` by a connector of `fixture` (with env `overrides`); [] if none. */
export async function planBulkRead(
  fixture: DynamicsFixture,
  people: BulkStateRequest[],
  overrides?: Record<string, string>,
): Promise<BulkStatePlan[]> {
  return (await fixture.connector(overrides).planConsentBatch?.(people)) ?? [];
}
