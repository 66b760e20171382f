import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { FindResult } from '../../connectors/connector.js';
import { consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import type { EncryptionKey } from '../../privacy/encryption-keys.js';
import {
  personalSubjectOf,
  SubjectEncryptionCodec,
  subjectKeyIdMetadataKey,
} from '../../privacy/subject-codec.js';
import { ErasedSubjectKey, SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';

const crmClientId = '424242.171717';
const none: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };
let contactDeleted = false;
const connectors: ConnectorSet = {
  dynamics: {
    // Holds one contact until it is deleted, as a CRM would (the erasure looks again after deleting).
    find: async () =>
      contactDeleted
        ? none
        : { records: [{ kind: 'contact', id: 'c-1' }], gaClientIds: [crmClientId], gaUserIds: [] },
    erase: async () => ({ outcome: 'erased', records: [{ kind: 'contact', id: 'c-1', result: 'deleted' }] }),
    deleteRecord: async () => {
      contactDeleted = true;
      return 'deleted' as const;
    },
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_found', records: [] }),
  },
  mailchimp: {
    find: async () => none,
    erase: async () => ({ outcome: 'not_found', records: [] }),
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_found', records: [] }),
  },
  google: {
    find: async () => none,
    erase: async (subject) => ({
      outcome: 'submitted',
      records: subject.gaClientIds.map((id) => ({
        kind: 'userDeletionRequest',
        id,
        result: 'submitted' as const,
      })),
    }),
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_applicable', records: [] }),
  },
};

const tempLedger = () =>
  openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-hub-shred-')) }, silentLogger);
const masterKey = (id: string): EncryptionKey => ({ id, key: randomBytes(32) });

/** Every payload in a workflow's raw history. */
async function historyPayloads(
  temporal: Awaited<ReturnType<typeof connectTestTemporal>>,
  workflowId: string,
) {
  const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const visit = (value: unknown): void => {
    if (!value || typeof value !== 'object') return;
    if (Array.isArray(value)) value.forEach(visit);
    else if ('metadata' in value && 'data' in value) payloads.push(value as Payload);
    else Object.values(value).forEach(visit);
  };
  visit(history.events);
  return payloads;
}

describe('crypto-shredding: per-subject data keys', () => {
  let ledger: Ledger;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    ledger = await tempLedger();
    temporal = await connectTestTemporal('shred', { subjectKeyLedger: ledger });
    worker = await temporal.startWorker({ connectors });
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    await ledger?.close();
  });

  it("seals a person's payloads with their own key, destroys it once the erasure closed, and leaves the history unreadable to the hub's own codec", async () => {
    const email = `shred.${Date.now()}@example.com`;
    const context = temporal.context();
    const started = await requestErasure(context, {
      email,
      gaClientIds: ['1111.2222'],
      requestedBy: 'privacy-inbox#9',
      requestedAt: new Date().toISOString(),
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');

    const shred = await temporal.client.workflow
      .getHandle(shredWorkflowId(started.subjectKey, started.requestId))
      .result();
    expect(shred.destroyed).toBe(1);
    expect(await ledger.activeSubjectDataKey(started.subjectKey)).toBeUndefined();

    // The hub's own codec, fresh (no key cached), on the finished erasure's history.
    const codec = new SubjectEncryptionCodec(
      temporal.secrets.encryptionKeys,
      new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys),
    );
    const payloads = await historyPayloads(temporal, started.workflowId);
    const sealed = payloads.filter((p) => p.metadata?.[subjectKeyIdMetadataKey]);
    // The workflow input, every connector call's input, and the CRM's answer with its GA ids.
    expect(sealed.length).toBeGreaterThanOrEqual(5);
    const readable: string[] = [];
    for (const payload of payloads) {
      if (payload.metadata?.[subjectKeyIdMetadataKey]) {
        await expect(codec.decode([payload])).rejects.toBeInstanceOf(ErasedSubjectKey);
      } else {
        const [decoded] = await codec.decode([payload]);
        readable.push(JSON.stringify(defaultPayloadConverter.fromPayload(decoded as Payload)));
      }
    }
    // What stays readable: the receipt (ledger write and result) and statuses: no address, no GA id.
    const text = readable.join('\n');
    expect(text).toContain(started.requestId);
    // GA ids given with the request, in the start's input and in its merge signal, are sealed too.
    for (const needle of [email, crmClientId, '1111.2222']) expect(text).not.toContain(needle);
    const history = await temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
    const signals = (history.events ?? []).flatMap(
      (event) => event.workflowExecutionSignaledEventAttributes?.input?.payloads ?? [],
    );
    expect(signals).toHaveLength(1);
    expect(signals.every((payload) => payload.metadata?.[subjectKeyIdMetadataKey])).toBe(true);
    // The receipt in the ledger still reads.
    expect((await ledger.getReceipt(started.requestId))?.subjectKey).toBe(started.subjectKey);
  });

  it("destroys the key an erased person's later withdrawal and status check minted, once their runs close", async () => {
    const email = `shred.after.${Date.now()}@example.com`;
    const context = temporal.context();
    const started = await requestErasure(context, {
      email,
      requestedBy: 'privacy-inbox#29',
      requestedAt: new Date().toISOString(),
    });
    await awaitReceipt(context, started);
    await temporal.client.workflow.getHandle(shredWorkflowId(started.subjectKey, started.requestId)).result();
    expect(await ledger.activeSubjectDataKey(started.subjectKey)).toBeUndefined();

    // Still carried after an erasure (a re-imported address), under a key minted for this run.
    const withdrawal = await recordConsentChange(
      context,
      {
        email,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'test',
      },
      undefined,
      { ledger },
    );
    expect(await ledger.activeSubjectDataKey(started.subjectKey)).toBeDefined();
    // These stub tools take no consent writes, so the run would wait for an operator: it is ended here.
    await temporal.client.workflow.getHandle(withdrawal.workflowId).terminate('test: the run is over');
    const afterWithdrawal = await temporal.client.workflow
      .getHandle(shredWorkflowId(started.subjectKey, withdrawal.eventId))
      .result();
    expect(afterWithdrawal.destroyed).toBe(1);
    expect(await ledger.activeSubjectDataKey(started.subjectKey)).toBeUndefined();

    const checked = await consentStatus(context, ledger, email, { verify: true });
    expect(checked.erased).toBe(true);
    // The check's own key goes once its run has closed (the shredding looks every second in tests).
    let active = await ledger.activeSubjectDataKey(started.subjectKey);
    for (let i = 0; i < 150 && active; i++) {
      await delay(200);
      active = await ledger.activeSubjectDataKey(started.subjectKey);
    }
    expect(active).toBeUndefined();
  });

  it('seals only payloads that name a subject and carry their data', () => {
    const subjectKey = 'a'.repeat(64);
    const of = (value: unknown) => personalSubjectOf(defaultPayloadConverter.toPayload(value));
    expect(of({ subjectKey, request: { email: 'x@example.com' } })).toBe(subjectKey);
    expect(of({ subjectKey, subject: { email: 'x@example.com' } })).toBe(subjectKey);
    expect(of({ subjectKey, gaClientIds: ['1.2'], records: [] })).toBe(subjectKey);
    expect(of({ requestId: 'r', subjectKey, outcome: 'completed', systems: {} })).toBeUndefined();
    expect(of({ subjectKey: '', request: {} })).toBeUndefined();
    expect(of('text')).toBeUndefined();
  });

  it('keeps reading data keys wrapped by an older master key after rotation, and wraps new ones with the new key', async () => {
    const store = await tempLedger();
    try {
      const old = masterKey('old');
      const rotated = masterKey('new');
      const before = await new SubjectDataKeys(store, [old]).forEncryption('b'.repeat(64));
      const after = new SubjectDataKeys(store, [rotated, old]);
      expect((await after.forDecryption(before.keyId)).equals(before.key)).toBe(true);
      const fresh = await after.forEncryption('c'.repeat(64));
      expect((await store.getSubjectDataKey(fresh.keyId))?.wrappingKeyId).toBe('new');
      // Without the old master key the old data key cannot be unwrapped: the error says which key to keep.
      await expect(new SubjectDataKeys(store, [rotated]).forDecryption(before.keyId)).rejects.toThrow(
        /"old"/,
      );
    } finally {
      await store.close();
    }
  });
});
