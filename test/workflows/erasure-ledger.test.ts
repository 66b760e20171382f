import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoopConnector } from '../../connectors/noop/noop-connector.js';
import { awaitReceipt, type HubClientContext, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { erasureStatusQuery } from '../../workflows/erasure-definitions.js';
import { erasureStatusAttribute } from '../../workflows/search-attribute-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';

/** A real SQLite ledger whose tombstone write fails once, after the receipt was written: a crash mid-activity. */
function flakyLedger(inner: Ledger) {
  const calls = {
    recordReceipt: [] as boolean[],
    tombstoneFailures: 0,
    /** When set, the next receipt write waits for it: the receipt is "being stored". */
    holdReceipt: undefined as Promise<void> | undefined,
  };
  const ledger: Ledger = Object.create(inner);
  ledger.recordReceipt = async (receipt) => {
    const hold = calls.holdReceipt;
    calls.holdReceipt = undefined;
    if (hold) await hold;
    const result = await inner.recordReceipt(receipt);
    calls.recordReceipt.push(result.inserted);
    return result;
  };
  ledger.recordTombstone = async (tombstone) => {
    if (calls.tombstoneFailures === 0 && calls.recordReceipt.length === 1) {
      calls.tombstoneFailures++;
      throw new Error('database connection lost');
    }
    return inner.recordTombstone(tombstone);
  };
  return { ledger, calls };
}

describe('erasure outcome in the ledger', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };
  let inner: Ledger;
  let flaky: ReturnType<typeof flakyLedger>;
  let context: HubClientContext;

  beforeAll(async () => {
    temporal = await connectTestTemporal('erasure-ledger');
    inner = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'erasure-ledger-')) }, silentLogger);
    flaky = flakyLedger(inner);
    const noop = createNoopConnector();
    worker = await temporal.startWorker({
      connectors: { dynamics: noop, mailchimp: noop, google: noop },
      ledger: flaky.ledger,
    });
    context = {
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      subjectKeySecret: temporal.secrets.subjectKeySecret,
      timings: { attentionAfter: '1 minute', operatorDeadline: '1 minute' },
    };
  });
  afterAll(async () => {
    await worker.stop();
    await inner.close();
    await temporal.close();
  });

  it('lands the receipt exactly once although the activity writing it is retried, then keeps only the tombstone', async () => {
    const started = await requestErasure(context, {
      email: 'ledger.person@example.com',
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    // A consent event recorded before the erasure: the erasure must delete it.
    await inner.appendConsentEvent({
      id: randomUUID(),
      subjectKey: started.subjectKey,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-01T00:00:00.000Z',
      recordedAt: '2026-01-01T00:00:01.000Z',
      source: 'form:contact',
      evidence: { policyVersion: '2024-05' },
    });
    const receipt = await awaitReceipt(context, started);

    expect(flaky.calls.tombstoneFailures).toBe(1);
    expect(flaky.calls.recordReceipt).toEqual([true, false]);
    const stored = await inner.listReceipts({ subjectKey: started.subjectKey });
    expect(stored).toEqual([receipt]);
    expect(await inner.getReceipt(started.requestId)).toEqual(receipt);
    expect(await inner.getTombstone(started.subjectKey)).toMatchObject({
      subjectKey: started.subjectKey,
      firstRequestId: started.requestId,
      systems: expect.arrayContaining(['dynamics', 'mailchimp', 'google']),
    });
    expect(await inner.listConsentEvents(started.subjectKey)).toEqual([]);
  });

  it('shows ErasureStatus completed only once the receipt is stored', async () => {
    let release: () => void = () => {};
    flaky.calls.holdReceipt = new Promise<void>((done) => {
      release = done;
    });
    const started = await requestErasure(context, {
      email: 'status.person@example.com',
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    const handle = temporal.client.workflow.getHandle(started.workflowId, started.requestId);
    const statusAttribute = async () =>
      (await handle.describe()).typedSearchAttributes.get(erasureStatusAttribute);
    // Every system is done; the receipt write is held.
    for (let i = 0; i < 80 && !(await handle.query(erasureStatusQuery)).systems.google.completedAt; i++) {
      await delay(100);
    }
    await delay(500);
    expect((await handle.query(erasureStatusQuery)).status).toBe('running');
    expect(await statusAttribute()).toBe('running');
    release();
    await awaitReceipt(context, started);
    expect(await statusAttribute()).toBe('completed');
  });
});
