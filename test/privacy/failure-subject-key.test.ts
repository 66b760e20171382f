import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { FindResult } from '../../connectors/connector.js';
import { NonRetryableVendorError } from '../../connectors/connector-errors.js';
import {
  awaitReceipt,
  type HubClientContext,
  lookupErasure,
  requestErasure,
  retryErasureSystem,
} from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { keyIdMetadataKey } from '../../privacy/encryption-codec.js';
import { subjectKeyIdMetadataKey } from '../../privacy/subject-codec.js';
import { ErasedSubjectKey } from '../../privacy/subject-data-keys.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';

/** A name the hub cannot know when Mailchimp answers: the CRM holds none for the person. */
const vendorQuotedName = 'Rosamund Featherstonehaugh';
const none: FindResult = { records: [], gaClientIds: [], gaUserIds: [] };
/** Until an operator fixed them, Mailchimp and Google fail for the person. */
let vendorsFail = true;
const connectors: ConnectorSet = {
  dynamics: {
    find: async () => none,
    erase: async () => ({ outcome: 'not_found', records: [] }),
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_found', records: [] }),
  },
  mailchimp: {
    erase: async () => ({ outcome: 'not_found', records: [] }),
    find: async () => {
      if (!vendorsFail) return none;
      throw new NonRetryableVendorError({
        system: 'mailchimp',
        operation: 'find',
        status: 400,
        vendorCode: 'Invalid Resource',
        reason: `merge field FNAME "${vendorQuotedName}" is not valid`,
      });
    },
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_found', records: [] }),
  },
  google: {
    find: async () => none,
    erase: async (subject) => {
      if (!vendorsFail)
        return {
          outcome: 'submitted',
          records: subject.gaClientIds.map((id) => ({
            kind: 'userDeletionRequest',
            id,
            result: 'submitted' as const,
          })),
        };
      // Not a VendorError: an SDK's own exception, which the SDK turns into an ApplicationFailure.
      throw new TypeError(`cannot submit the deletion of ${vendorQuotedName}`);
    },
    readConsent: async () => ({ purposes: {}, records: [] }),
    applyConsent: async () => ({ outcome: 'not_applicable', records: [] }),
  },
};

/**
 * Issue 16: a vendor's error text can name the person in a form the redaction did not know. A failed call
 * about a person has its failure's message, stack trace and details sealed with that person's data key, so
 * once their erasure's shred destroyed it, no history holds the text in a readable form.
 */
describe("failures of a call about a person are sealed with the person's data key", {
  timeout: 120_000,
}, () => {
  let ledger: Ledger;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };
  let context: HubClientContext & { shredPollEvery?: string };

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'failure-subject-key-')) }, silentLogger);
    temporal = await connectTestTemporal('failure-subject-key', { subjectKeyLedger: ledger });
    worker = await temporal.startWorker({ connectors, ledger });
    context = {
      ...temporal.context(),
      timings: { attentionAfter: '2 seconds', operatorDeadline: '1 minute' },
    };
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  /** Every encoded payload of every activity failure in the history (its causes' too), by part. */
  async function failurePayloads(workflowId: string, runId: string) {
    const history = await temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const payloads: { part: string; payload: Payload }[] = [];
    type Failure = NonNullable<
      NonNullable<NonNullable<typeof history.events>[number]['activityTaskFailedEventAttributes']>['failure']
    >;
    const collect = (failure: Failure | null | undefined): void => {
      if (!failure) return;
      if (failure.encodedAttributes)
        payloads.push({ part: 'attributes', payload: failure.encodedAttributes });
      for (const detail of failure.applicationFailureInfo?.details?.payloads ?? [])
        payloads.push({ part: 'details', payload: detail });
      collect(failure.cause);
    };
    for (const event of history.events ?? []) {
      collect(event.activityTaskFailedEventAttributes?.failure);
      collect(event.activityTaskTimedOutEventAttributes?.failure);
    }
    return payloads;
  }

  it("seals a vendor failure's message, stack and details, and an SDK error's, with the subject's key; the shred makes them unreadable", async () => {
    const started = await requestErasure(context, {
      email: `rf.${Date.now()}@example.com`,
      gaClientIds: ['987654321.123456789'],
      requestedBy: 'privacy-inbox#16',
      requestedAt: new Date().toISOString(),
    });
    for (let i = 0; i < 200; i++) {
      const found = await lookupErasure(context, started.requestId);
      const systems = found.state === 'open' ? found.status.systems : undefined;
      if (systems?.mailchimp.status === 'needs_attention' && systems.google.status === 'needs_attention')
        break;
      await delay(250);
    }
    const payloads = await failurePayloads(started.workflowId, started.requestId);
    expect(payloads.map((p) => p.part)).toEqual(expect.arrayContaining(['attributes', 'details']));
    const codec = temporal.dataConverter.payloadCodecs?.[0];
    if (!codec) throw new Error('the test client has no codec');
    for (const { payload } of payloads) {
      expect(Object.keys(payload.metadata ?? {})).toContain(subjectKeyIdMetadataKey);
      expect(Object.keys(payload.metadata ?? {})).not.toContain(keyIdMetadataKey);
    }
    // Readable while the person's erasure runs: the workflow (and an operator) still reads why a call failed.
    const readable = await codec.decode(payloads.map((p) => p.payload));
    const text = readable.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
    expect(text).toContain('stack_trace');
    expect(text).toContain('Invalid Resource');
    expect(text).toContain('TypeError');

    // The vendors answer again: the erasure completes, and its shred destroys the person's keys.
    vendorsFail = false;
    for (const system of ['mailchimp', 'google'] as const)
      await retryErasureSystem(context, started.requestId, { system, operator: 'op-16' });
    expect((await awaitReceipt(context, started)).outcome).toBe('completed');
    await temporal.client.workflow.getHandle(shredWorkflowId(started.subjectKey, started.requestId)).result();
    for (const { payload } of payloads)
      await expect(codec.decode([payload])).rejects.toBeInstanceOf(ErasedSubjectKey);
  });
});
