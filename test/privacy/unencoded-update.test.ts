import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type ErasureStarted,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import {
  closeSystemUpdate,
  erasureAddressChangedSignal,
  mergeErasureRequestSignal,
  retrySystemUpdate,
} from '../../workflows/erasure-definitions.js';
import { erasureStatusWhen } from '../support/erasure-runs.js';
import { rawHistoryText } from '../support/history.js';
import { emptySystem, mailchimpRefusingFind } from '../support/stub-connectors.js';
import { connectTestTemporal } from '../support/temporal.js';

const connectors: ConnectorSet = {
  dynamics: emptySystem(),
  mailchimp: mailchimpRefusingFind({
    status: 403,
    vendorCode: 'Forbidden',
    reason: 'the API key cannot read this audience',
  }),
  google: emptySystem('not_applicable'),
};

/**
 * Issue 16: an update sent past the hub's payload codec (`temporal workflow update` without the codec
 * server, another SDK's client) would sit in the history as `json/plain`, where no shred reaches it. The
 * workflows' validators refuse it, so nothing of it is recorded; the same update through the hub is accepted.
 */
describe("updates sent without the hub's codec are refused", { timeout: 120_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void>; ledger: Ledger };
  let context: HubClientContext;
  let plainClient: Client;
  let plainConnection: Connection;

  beforeAll(async () => {
    temporal = await connectTestTemporal('unencoded-update');
    worker = await temporal.startWorker({ connectors });
    context = {
      ...temporal.context(),
      timings: { attentionAfter: '2 seconds', operatorDeadline: '1 minute' },
    };
    // A client as `temporal` or another SDK is: it sends payloads as the default converter makes them (no
    // codec). It reads answers with the hub's codec, so the test can read why an update was refused.
    const hubCodec = temporal.dataConverter.payloadCodecs?.[0];
    if (!hubCodec) throw new Error('the test client has no codec');
    plainConnection = await Connection.connect({ address: inject('temporalAddress') });
    plainClient = new Client({
      connection: plainConnection,
      namespace: temporal.namespace,
      dataConverter: {
        payloadCodecs: [
          { encode: async (payloads) => payloads, decode: (payloads) => hubCodec.decode(payloads) },
        ],
      },
    });
  });
  afterAll(async () => {
    await plainConnection?.close();
    await worker?.stop();
    await temporal?.close();
  });

  /** An erasure of a fresh `<prefix>.<now>@example.com` once its Mailchimp step waits for an operator. */
  async function erasureWaitingOnMailchimp(prefix: string) {
    const started = await requestErasure(context, {
      email: `${prefix}.${Date.now()}@example.com`,
      requestedBy: 'privacy-inbox#16',
      requestedAt: new Date().toISOString(),
    });
    await erasureStatusWhen(context, started.requestId, (status) => {
      return status.systems.mailchimp.status === 'needs_attention';
    });
    return started;
  }

  /** Closes Mailchimp through the hub's client (encrypted), as handled by hand; answers the receipt. */
  async function closeMailchimpThroughTheHub(started: ErasureStarted) {
    await closeErasureSystem(context, started.requestId, {
      system: 'mailchimp',
      reason: 'handled_manually',
      operator: 'op-16',
    });
    return awaitReceipt(context, started);
  }

  it('refuses an unencrypted close or retry of an erasure system in the validator (nothing in the history), and accepts the close through the hub', async () => {
    const started = await erasureWaitingOnMailchimp('uu');
    const plain = plainClient.workflow.getHandle(started.workflowId, started.requestId);
    const closing = plain.executeUpdate(closeSystemUpdate, {
      args: [{ system: 'mailchimp', reason: 'other: Clementine Harbottle unsubscribed', operator: 'op-16' }],
    });
    await expect(closing).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    await expect(closing).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/payload codec/) },
    });
    await expect(
      plain.executeUpdate(retrySystemUpdate, { args: [{ system: 'mailchimp', operator: 'op-16' }] }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);

    const history = await rawHistoryText(temporal.client, started.workflowId);
    expect(history).not.toContain('Harbottle');
    expect(history).not.toContain('WorkflowExecutionUpdateAccepted');
    const found = await lookupErasure(context, started.requestId);
    expect(found.state === 'open' && found.status.systems.mailchimp.status).toBe('needs_attention');

    // The same close through the hub's client (encrypted) is accepted.
    const receipt = await closeMailchimpThroughTheHub(started);
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
    expect(receipt.operatorActions?.map((action) => action.reason)).toEqual(['handled_manually']);
  });
  /**
   * Signals cannot be refused: one sent straight to Temporal stays in the history as sent. What the erasure
   * keeps of it is held to the hub client's shapes, so a name or an address typed into its fields reaches
   * neither the receipt nor the ledger, and an address change the hub did not send moves nothing.
   */
  it('keeps no words of signals sent without the codec in the receipt, and ignores such an address change', async () => {
    const started = await erasureWaitingOnMailchimp('us');
    const plain = plainClient.workflow.getHandle(started.workflowId, started.requestId);
    await plain.signal(mergeErasureRequestSignal, {
      token: 'typed-by-hand',
      gaClientIds: [],
      gaUserIds: [],
      reason: 'Clementine Harbottle asked by phone',
      reasonNote: 'Clementine Harbottle, clementine@harbottle.example',
      requestedBy: 'Clementine Harbottle <clementine@harbottle.example>',
      requestedAt: 'Clementine',
    });
    await plain.signal(erasureAddressChangedSignal, {
      subjectKey: 'a'.repeat(64),
      newEmail: 'clementine@harbottle.example',
      newSubjectKey: 'Clementine Harbottle',
      source: 'Clementine Harbottle',
      changedAt: new Date().toISOString(),
    });
    // Both signals are in the history before the close below, so the run handles them first.
    const receipt = await closeMailchimpThroughTheHub(started);
    expect(receipt.joinedRequests).toEqual([
      expect.objectContaining({ reason: 'other', requestedBy: 'unknown', gaClientIdsAdded: 0 }),
    ]);
    expect(Number.isNaN(Date.parse(receipt.joinedRequests?.[0]?.requestedAt ?? ''))).toBe(false);
    expect(receipt.addressChanges ?? []).toEqual([]);
    const kept = JSON.stringify(await worker.ledger.getReceipt(started.requestId));
    expect(kept).toContain(started.requestId);
    expect(`${JSON.stringify(receipt)} ${kept}`).not.toMatch(/clementine|harbottle/i);
  });
});
