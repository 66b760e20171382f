import { inject } from 'vitest';
import { ensureLocalTls } from '../../sandboxes/framework/local-ca.js';
import type { SandboxDefinition, SandboxStore } from '../../sandboxes/framework/sandbox-definition.js';
import { type RunningSandbox, startSandbox } from '../../sandboxes/framework/sandbox-server.js';

/** Starts a vendor sandbox on a free port with the run's local CA; close it in afterAll. */
export function startTestSandbox<Store extends SandboxStore<Seed>, Seed, Options>(
  definition: SandboxDefinition<Store, Seed, Options>,
  options: Options,
): Promise<RunningSandbox<Store>> {
  return startSandbox(definition, { tls: ensureLocalTls(inject('dataDir')), options });
}
