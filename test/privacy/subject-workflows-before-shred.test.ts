import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConnectors } from '../../connectors/registry.js';
import type { AccessReceipt } from '../../domain/access.js';
import {
  type AccessClientContext,
  AccessExportGone,
  lookupAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import {
  awaitRectification,
  rectificationHandle,
  requestRectification,
} from '../../hub-client/rectifications.js';
import { openSubjectWorkflows } from '../../hub-client/shredding.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { closeSystemUpdate } from '../../workflows/erasure-definitions.js';
import { rectificationStatusQuery } from '../../workflows/rectification-definitions.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

const unique = () => `${Date.now()}${randomBytes(2).toString('hex')}`;

/** Workflow task failures in a workflow's history: a replay that could not read its payloads shows here. */
async function workflowTaskFailures(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((event) => event.workflowTaskFailedEventAttributes).length;
}

async function closeTime(client: Client, workflowId: string): Promise<Date> {
  const description = await client.workflow.getHandle(workflowId).describe();
  expect(description.status.name).toBe('COMPLETED');
  return description.closeTime as Date;
}

/**
 * Issue 16's high finding and its kind: an access request (or any other workflow of the person) that was
 * still open when their data key was destroyed failed every replay after it. Now the erasure ends the
 * person's access requests with a recorded terminal state, and the shredding destroys the key only once
 * every workflow of the subject has closed, whatever its kind.
 */
describe('no workflow of a subject outlives their shredded key', { timeout: 300_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let ledger: Ledger;
  let exportDir: string;
  let worker: { stop(): Promise<void> };
  let built: ReturnType<typeof buildConnectors>;
  let context: AccessClientContext & ReturnType<typeof temporal.context>;
  const store = () =>
    new AccessExportStore(
      exportDir,
      temporal.secrets.encryptionKeys,
      new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys),
    );
  const startWorker = () =>
    temporal.startWorker({ connectors: built.connectors, ledger, accessExports: store() });

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'subject-wf-ledger-')) }, silentLogger);
    temporal = await connectTestTemporal('subject-wf-shred', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    exportDir = mkdtempSync(join(tmpdir(), 'subject-wf-exports-'));
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await startWorker();
    context = { ...temporal.context(), exportTtl: '30 days' };
  });
  afterAll(async () => {
    await worker?.stop();
    await built?.close();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  const erase = async (email: string) => {
    const started = await requestErasure(
      context,
      { email, reason: 'subject_request', requestedBy: 'test', requestedAt: new Date().toISOString() },
      { ledger },
    );
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    return started.requestId;
  };

  it('ends an access request still gathering when its person is erased as withdrawn, recorded, its export gone (410), before the key is shredded', async () => {
    const email = `slow.access.${unique()}@example.org`;
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Winifred', lastname: 'Slowread', emailaddress1: email }],
    });
    // Google's retention read (the access request's only Google call) keeps failing: the request stays open.
    await vendors.google.control.fail({ path: 'dataRetentionSettings', status: 503, count: 100_000 });
    try {
      const access = await requestAccess(
        context,
        { email, requestedBy: 'test', requestedAt: new Date().toISOString() },
        { ledger },
      );
      for (let i = 0; i < 120; i++) {
        const view = await lookupAccess(context, access.requestId);
        if (view.systems.google.attempts >= 1 && view.systems.dynamics.status === 'collected') break;
        await delay(250);
      }
      expect((await lookupAccess(context, access.requestId)).status).toBe('running');

      const erasureRequestId = await erase(email);
      const shred = await temporal.client.workflow
        .getHandle(shredWorkflowId(subjectKey, erasureRequestId))
        .result();
      expect(shred.destroyed).toBeGreaterThanOrEqual(1);

      // The access workflow completed (not failed, not terminated) before the key went, with its receipt.
      const workflowId = accessWorkflowId(access.requestId);
      const shredClosed = await closeTime(temporal.client, shredWorkflowId(subjectKey, erasureRequestId));
      expect((await closeTime(temporal.client, workflowId)).getTime()).toBeLessThanOrEqual(
        shredClosed.getTime(),
      );
      const receipt = (await lookupAccess(context, access.requestId)) as AccessReceipt;
      expect(receipt).toMatchObject({
        kind: 'access',
        status: 'withdrawn',
        outcome: 'withdrawn_subject_erased',
        withdrawn: { reason: 'subject_erased', erasureRequestId },
      });
      expect(receipt.systems.google.status).toBe('withdrawn');
      expect(receipt.systems.dynamics.status).toBe('collected');
      expect(await ledger.getAccessReceipt(access.requestId)).toMatchObject({
        outcome: 'withdrawn_subject_erased',
      });
      // The request left the deadline queue.
      const [deadline] = await ledger.listRequestDeadlines({ kind: 'access', subjectKey });
      expect(deadline?.completedAt).toBeDefined();

      // Nothing it gathered can be fetched: gone, naming the request only.
      const refused = await readAccessExport(context, store(), access.requestId, 'json').catch(
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(AccessExportGone);

      // A fresh worker (a restart) finds nothing of the subject open to replay, and no task ever failed.
      await worker.stop();
      worker = await startWorker();
      expect(await openSubjectWorkflows(temporal.client, { subjectKey, requests: [] })).toEqual([]);
      expect(await workflowTaskFailures(temporal.client, workflowId)).toBe(0);
    } finally {
      await vendors.google.control.clearFaults();
    }
  });

  it('keeps the key of an erased person while their rectification waits for an operator, and shreds it once that closed', async () => {
    const email = `waiting.rectify.${unique()}@example.org`;
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Ambrose', lastname: 'Latewrite', emailaddress1: email }],
    });
    // The CRM refuses the rectification's write for good: Dynamics waits for an operator (5 minutes here).
    await vendors.dynamics.control.fail({ method: 'PATCH', path: 'contacts', status: 400, count: 1 });
    const rectification = await requestRectification(
      context,
      { email, set: { lastname: 'Rewritten' }, requestedBy: 'test', requestedAt: new Date().toISOString() },
      { ledger },
    );
    const handle = rectificationHandle(context, rectification);
    const dynamicsStatus = async () => (await handle.query(rectificationStatusQuery)).systems.dynamics.status;
    for (let i = 0; i < 120 && (await dynamicsStatus()) !== 'needs_attention'; i++) await delay(250);
    expect(await dynamicsStatus()).toBe('needs_attention');

    const erasureRequestId = await erase(email);
    const shredHandle = temporal.client.workflow.getHandle(shredWorkflowId(subjectKey, erasureRequestId));
    // The rectification is still open: the shredding waits (it polls every second here) and the key stays.
    await delay(4_000);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect((await shredHandle.describe()).status.name).toBe('RUNNING');
    expect(await ledger.activeSubjectDataKey(subjectKey)).toBeDefined();
    expect(await openSubjectWorkflows(temporal.client, { subjectKey, requests: [] })).toContain(
      rectification.workflowId,
    );

    // The operator closes the system: the rectification ends with its receipt, then the key is destroyed.
    await handle.executeUpdate(closeSystemUpdate, {
      args: [{ system: 'dynamics', reason: 'the person was erased', operator: 'test' }],
    });
    const receipt = await awaitRectification(context, rectification);
    expect(receipt.systems.dynamics.status).toBe('closed_by_operator');
    const shred = await shredHandle.result();
    expect(shred.destroyed).toBeGreaterThanOrEqual(1);
    expect(await ledger.activeSubjectDataKey(subjectKey)).toBeUndefined();
    expect((await closeTime(temporal.client, rectification.workflowId)).getTime()).toBeLessThanOrEqual(
      (await closeTime(temporal.client, shredWorkflowId(subjectKey, erasureRequestId))).getTime(),
    );
    expect(await workflowTaskFailures(temporal.client, rectification.workflowId)).toBe(0);
  });
});
