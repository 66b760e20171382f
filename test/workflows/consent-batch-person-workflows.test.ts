import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentChangeRequestSchema } from '../../domain/consent.js';
import { type ConsentBatchItem, consentBatchWorkflowId } from '../../domain/consent-batch.js';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import { consentBatchResult, recordConsentBatch } from '../../hub-client/consent-batch.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { consentWorkflow } from '../../workflows/consent.js';
import type { consentBatchWorkflow } from '../../workflows/consent-batch.js';
import { consentStatusQuery, consentWorkflowId } from '../../workflows/consent-definitions.js';
import { subjectKeyAttribute } from '../../workflows/search-attribute-keys.js';
import { changeSettled, consentViewWhen } from '../support/consent-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { personWithLegacyKey, startConsentRunUnderLegacyKey } from '../support/legacy-subject-keys.js';
import { waitFor } from '../support/waiting.js';
import { terminateWorkflows, workflowStatus } from '../support/workflow-runs.js';

const listId = 'batch-person-news';
let counter = 0;
const unique = () => `${Date.now().toString(36)}${counter++}`;

/**
 * The batch meets the person's own workflow: a consent workflow still running under a key an older version
 * gave the address (commit 734150c) takes the person's change through the person's own route, which hands
 * the legacy run over to the canonical key, so the batch never writes beside it; and a change the batch
 * hands to a person keeps the time the hub first recorded it.
 */
describe('a consent batch and the people’s own workflows', { timeout: 180_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  const opened: string[] = [];

  beforeAll(async () => {
    hub = await startHubWithVendors('consent-batch-person');
    context = hub.temporal.context();
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'News', members: [] }] });
  });
  afterAll(async () => {
    if (context) await terminateWorkflows(context.client, opened);
    await hub?.close();
  });

  const statusOf = (workflowId: string) => workflowStatus(context.client, workflowId);

  it('routes a person whose consent workflow runs under a legacy key through their own route: the legacy run hands over, the change is written once, under the canonical key', async () => {
    const lea = personWithLegacyKey(context.subjectKeySecret);
    const { idn, legacyKey, canonicalKey } = lea;
    const legacyId = consentWorkflowId(legacyKey);
    opened.push(legacyId, consentWorkflowId(canonicalKey));
    const timings = { ...context.consentTimings, idleAfter: '10 minutes' };
    const legacyRun = await startConsentRunUnderLegacyKey(hub, context, lea, listId, timings);

    const accepted = await recordConsentBatch(
      { ...context, consentTimings: timings },
      [
        {
          index: 0,
          change: consentChangeRequestSchema.parse({
            email: idn,
            purpose: 'marketing_email',
            decision: 'withdrawn',
            occurredAt: new Date().toISOString(),
            source: 'batch-test',
            evidence: { channel: 'import' },
          }),
        },
      ],
      { ledger: hub.ledger },
    );
    const eventId = accepted.accepted[0]?.eventId;
    const result = await consentBatchResult(context, accepted.batchId);
    expect(result.results).toEqual([
      expect.objectContaining({
        subjectKey: canonicalKey,
        route: 'person',
        reason: expect.stringContaining(`older key (${legacyKey})`),
      }),
    ]);
    expect((await legacyRun.result()).rekeyedTo?.subjectKey).toBe(canonicalKey);
    expect(await statusOf(legacyId)).toBe('COMPLETED');

    const view = await consentViewWhen(
      context.client,
      canonicalKey,
      changeSettled('marketing_email', eventId ?? ''),
      'the change is written under the canonical key',
    );
    expect(view.purposes.marketing_email).toMatchObject({
      decision: 'withdrawn',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect((await hub.ledger.listConsentEvents(canonicalKey)).map((e) => e.id)).toEqual([eventId]);
    expect(await hub.ledger.listConsentEvents(legacyKey)).toEqual([]);
  });

  it('routes a change for an address a rectification moved away from to the person’s workflow under the new key, not a write beside it under the old one', async () => {
    const oldEmail = `old${unique()}@example.com`;
    const newEmail = `new${unique()}@example.com`;
    const oldKey = subjectKeyFor(oldEmail, context.subjectKeySecret);
    const newKey = subjectKeyFor(newEmail, context.subjectKeySecret);
    const requestId = randomUUID();
    const rekeyedAt = new Date();
    await hub.ledger.rekeySubject({ from: oldKey, to: newKey, requestId, at: rekeyedAt.toISOString() });
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Rhea', lastname: 'Moved', emailaddress1: newEmail }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'News', members: [{ email_address: newEmail, status: 'subscribed' }] }],
    });
    const timings = { ...context.consentTimings, idleAfter: '10 minutes' };
    const newId = consentWorkflowId(newKey);
    opened.push(newId, consentWorkflowId(oldKey));
    const moved = await context.client.workflow.start<typeof consentWorkflow>('consentWorkflow', {
      taskQueue: context.taskQueue,
      workflowId: newId,
      args: [{ subjectKey: newKey, email: newEmail, timings }],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: newKey }],
    });
    await waitFor('the new key’s run is up', () => moved.query(consentStatusQuery), { retryErrors: true });

    // As a late webhook's buffer and reconciliation start it: the batch alone must see the rectification.
    // The unsubscribe fired before the re-key (a late delivery of the person's own): one a vendor reports
    // after it is the address's new owner's (test/workflows/rekey-address-taken-again.test.ts).
    const batchId = randomUUID();
    const eventId = randomUUID();
    const item: ConsentBatchItem = {
      subjectKey: oldKey,
      email: oldEmail,
      change: {
        eventId,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date(rekeyedAt.getTime() - 60_000).toISOString(),
        recordedAt: new Date().toISOString(),
        source: 'mailchimp',
        evidence: { channel: 'mailchimp-webhook' },
      },
    };
    await context.client.workflow.start<typeof consentBatchWorkflow>('consentBatchWorkflow', {
      taskQueue: context.taskQueue,
      workflowId: consentBatchWorkflowId(batchId),
      args: [{ batchId, timings }, item],
    });
    const result = await consentBatchResult(context, batchId);
    expect(result.results).toEqual([
      expect.objectContaining({
        subjectKey: oldKey,
        route: 'person',
        reason: expect.stringContaining(`rectification (${requestId})`),
      }),
    ]);
    const view = await consentViewWhen(
      context.client,
      newKey,
      changeSettled('marketing_email', eventId),
      'the change is written under the new key',
    );
    expect(view.purposes.marketing_email).toMatchObject({
      decision: 'withdrawn',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect((await hub.ledger.listConsentEvents(newKey)).map((e) => e.id)).toEqual([eventId]);
    expect(await hub.ledger.listConsentEvents(oldKey)).toEqual([]);
    expect(await statusOf(consentWorkflowId(oldKey))).toBeUndefined();
  });

  it('keeps the time the hub first recorded a change it hands to the person’s own workflow, not the hand-over’s', async () => {
    const email = `handed.${unique()}@example.com`;
    const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
    opened.push(consentWorkflowId(subjectKey));
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Han', lastname: 'Ded', emailaddress1: email }],
    });
    // Taken in an hour ago (a batch that waited for a worker): a grant goes to the person's own workflow.
    const recordedAt = new Date(Date.now() - 3_600_000).toISOString();
    const item: ConsentBatchItem = {
      subjectKey,
      email,
      change: {
        eventId: randomUUID(),
        purpose: 'phone',
        decision: 'granted',
        occurredAt: new Date(Date.now() - 3_700_000).toISOString(),
        recordedAt,
        source: 'batch-test',
        evidence: { channel: 'import', policyVersion: 'v1' },
      },
    };
    const batchId = randomUUID();
    const result = await context.client.workflow.execute<typeof consentBatchWorkflow>(
      'consentBatchWorkflow',
      {
        taskQueue: context.taskQueue,
        workflowId: consentBatchWorkflowId(batchId),
        args: [{ batchId, timings: context.consentTimings }, item],
      },
    );
    expect(result.results[0]).toMatchObject({ subjectKey, route: 'person' });
    const event = await waitFor(
      'the person’s workflow recorded the change',
      async () => (await hub.ledger.listConsentEvents(subjectKey)).find((e) => e.id === item.change.eventId),
      { retryErrors: true },
    );
    expect(event.recordedAt).toBe(recordedAt);
  });
});
