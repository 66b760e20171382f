import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import {
  awaitReceipt,
  closeErasureSystem,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { rawHistoryText } from '../support/history.js';
import { emptySystem, mailchimpRefusingFind } from '../support/stub-connectors.js';
import { connectTestTemporal } from '../support/temporal.js';

const email = `mary.o'brien.${Date.now()}@example.com`;
const digests = [
  createHash('md5').update(email).digest('hex'),
  createHash('sha256').update(email).digest('hex'),
];
const gaClientId = '987654321.123456789';

/** Connectors whose failures quote the person, as vendors' error bodies do. */
const connectors: ConnectorSet = {
  dynamics: emptySystem(),
  mailchimp: mailchimpRefusingFind({
    status: 400,
    vendorCode: 'Forgotten Email Not Subscribed',
    reason: `Forgotten Email Not Subscribed: ${email.toUpperCase()} (${encodeURIComponent(email)}) hash ${digests[0]}`,
  }),
  google: {
    ...emptySystem('not_applicable'),
    erase: async () => {
      // Not a VendorError: a bug or an SDK's own exception, whose message and stack quote the input.
      throw new TypeError(`cannot submit ${gaClientId} for "${email}"`);
    },
  },
};

describe('failures carry no personal data into Temporal', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };
  let context: HubClientContext;

  beforeAll(async () => {
    temporal = await connectTestTemporal('failure-privacy');
    worker = await temporal.startWorker({ connectors });
    context = {
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      subjectKeySecret: temporal.secrets.subjectKeySecret,
      timings: { attentionAfter: '2 seconds', operatorDeadline: '1 minute' },
    };
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  it('redacts the subject from failure reasons, encodes every failure message and stack, and keeps the history clean', async () => {
    const started = await requestErasure(context, {
      email,
      gaClientIds: [gaClientId],
      requestedBy: 'privacy-inbox#7',
      reason: `asked by ${email} at the desk`,
      requestedAt: new Date().toISOString(),
    });
    let status: Awaited<ReturnType<typeof lookupErasure>> | undefined;
    for (let i = 0; i < 120; i++) {
      status = await lookupErasure(context, started.requestId);
      if (
        status.state === 'open' &&
        status.status.systems.mailchimp.status === 'needs_attention' &&
        status.status.systems.google.status === 'needs_attention'
      )
        break;
      await delay(250);
    }
    if (status?.state !== 'open') throw new Error('the erasure never waited for an operator');
    const { mailchimp, google } = status.status.systems;
    // The operator still learns what went wrong: the vendor's words, without the person.
    expect(mailchimp.failure?.reason).toBe(
      'Forgotten Email Not Subscribed: [email] ([email]) hash [identifier]',
    );
    expect(google.failure?.reason).toContain('cannot submit [identifier] for "[email]"');

    await closeErasureSystem(context, started.requestId, { system: 'mailchimp', reason: 'done by hand' });
    await closeErasureSystem(context, started.requestId, { system: 'google', reason: 'done by hand' });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.reason).toBe('other');
    expect(receipt.reasonNote).toBe('asked by [email] at the desk');

    const history = await temporal.client.workflow.getHandle(started.workflowId).fetchHistory();
    const failures = (history.events ?? []).flatMap((event) => {
      const failure = event.activityTaskFailedEventAttributes?.failure;
      return failure ? [failure] : [];
    });
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure.message).toBe('Encoded failure');
      expect(failure.stackTrace ?? '').toBe('');
      expect(failure.encodedAttributes?.metadata?.encoding).toBeDefined();
    }
    const raw = await rawHistoryText(temporal.client, started.workflowId);
    for (const needle of [
      email,
      email.toUpperCase(),
      encodeURIComponent(email),
      "mary.o'",
      gaClientId,
      ...digests,
    ]) {
      expect(raw).not.toContain(needle);
    }
    expect(JSON.stringify(receipt)).not.toMatch(/mary|@example/i);
  });
});
