import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectors } from '../../connectors/registry.js';
import type { AccessReceipt } from '../../domain/access.js';
import { type AccessClientContext, lookupAccess, requestAccess } from '../../hub-client/access.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

/** Issue 16: an erasure ends every running access request of the person, not only the first one. */
describe('an erasure of a person with two running access requests', { timeout: 240_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let ledger: Ledger;
  let worker: { stop(): Promise<void> };
  let built: ReturnType<typeof buildConnectors>;
  let context: AccessClientContext & ReturnType<typeof temporal.context>;

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'two-access-ledger-')) }, silentLogger);
    temporal = await connectTestTemporal('two-access', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    const accessExports = new AccessExportStore(
      mkdtempSync(join(tmpdir(), 'two-access-exports-')),
      temporal.secrets.encryptionKeys,
      new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys),
    );
    worker = await temporal.startWorker({ connectors: built.connectors, ledger, accessExports });
    context = { ...temporal.context(), exportTtl: '30 days' };
  });
  afterAll(async () => {
    await worker?.stop();
    await built?.close();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  it('ends both as withdrawn_subject_erased before the key is shredded', async () => {
    const email = `two.access.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Two', lastname: 'Requests', emailaddress1: email }],
    });
    await vendors.google.control.fail({ path: 'dataRetentionSettings', status: 503, count: 100_000 });
    try {
      const first = await requestAccess(
        context,
        { email, requestedBy: 'test', requestedAt: new Date().toISOString() },
        { ledger },
      );
      const second = await requestAccess(
        context,
        { email, requestedBy: 'test-2', requestedAt: new Date().toISOString() },
        { ledger },
      );
      expect(second.requestId).not.toBe(first.requestId);
      for (let i = 0; i < 120; i++) {
        const views = await Promise.all([first, second].map((a) => lookupAccess(context, a.requestId)));
        if (views.every((v) => v.systems.google.attempts >= 1)) break;
        await delay(250);
      }
      const started = await requestErasure(
        context,
        { email, reason: 'subject_request', requestedBy: 'test', requestedAt: new Date().toISOString() },
        { ledger },
      );
      expect((await awaitReceipt(context, started)).outcome).toBe('completed');
      const shred = await temporal.client.workflow
        .getHandle(shredWorkflowId(subjectKey, started.requestId))
        .result();
      expect(shred.destroyed).toBeGreaterThanOrEqual(1);
      for (const access of [first, second]) {
        expect((await lookupAccess(context, access.requestId)) as AccessReceipt).toMatchObject({
          outcome: 'withdrawn_subject_erased',
          withdrawn: { reason: 'subject_erased', erasureRequestId: started.requestId },
        });
      }
    } finally {
      await vendors.google.control.clearFaults();
    }
  });
});
