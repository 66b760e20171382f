import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasureRequestSchema } from '../../domain/erasure.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import type { erasureWorkflow } from '../../workflows/erasure.js';
import {
  closeSystemUpdate,
  erasureStatusQuery,
  erasureWorkflowId,
} from '../../workflows/erasure-definitions.js';
import { subjectKeyAttribute } from '../../workflows/search-attribute-keys.js';
import { changeSettled, consentViewWhen, testWithdrawal } from '../support/consent-runs.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { personWithLegacyKey, startConsentRunUnderLegacyKey } from '../support/legacy-subject-keys.js';
import { mailchimpMember } from '../support/vendor-sandboxes.js';
import { waitFor } from '../support/waiting.js';
import { terminateWorkflows, workflowStatus } from '../support/workflow-runs.js';

const listId = 'legacy-key-news';

/**
 * Issue 15: a workflow started before the canonical subject key runs under the key its spelling of the
 * address had then. A new request for the same person, computed under the canonical key, joins (erasure)
 * or takes over (consent) that run instead of starting a second workflow beside it, and says so.
 */
describe('requests meet a workflow still running under a legacy subject key', { timeout: 180_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  const opened: string[] = [];

  beforeAll(async () => {
    hub = await startHubWithVendors('legacy-key-workflows');
    context = hub.temporal.context();
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'News', members: [] }] });
  });
  afterAll(async () => {
    if (context) await terminateWorkflows(context.client, opened);
    await hub?.close();
  });

  const statusOf = (workflowId: string) => workflowStatus(context.client, workflowId);
  /** An address held under its punycode spelling, whose older key is not the canonical one. */
  const person = () => personWithLegacyKey(context.subjectKeySecret);

  it('joins an erasure still running under the legacy key instead of starting a second one, and says so', async () => {
    const { punycode, idn, legacyKey, canonicalKey } = person();
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Lea', lastname: 'Legacy', emailaddress1: punycode }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'News', members: [{ email_address: punycode, status: 'subscribed' }] }],
    });
    // Mailchimp refuses once, for good: the legacy run waits for an operator there.
    await hub.vendors.mailchimp.control.fail({ path: 'members', status: 403 });
    const legacyId = erasureWorkflowId(legacyKey);
    opened.push(legacyId, erasureWorkflowId(canonicalKey));
    // As an older version started it: keyed by the spelling it was given.
    const legacyRun = await context.client.workflow.start<typeof erasureWorkflow>('erasureWorkflow', {
      taskQueue: context.taskQueue,
      workflowId: legacyId,
      args: [
        {
          subjectKey: legacyKey,
          request: erasureRequestSchema.parse({
            email: punycode,
            requestedBy: 'privacy-inbox#old',
            requestedAt: new Date().toISOString(),
          }),
          timings: context.timings,
        },
      ],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: legacyKey }],
    });
    await waitFor(
      'mailchimp needs attention in the legacy run',
      async () => {
        const status = await legacyRun.query(erasureStatusQuery);
        return status.systems.mailchimp.status === 'needs_attention' ? status : undefined;
      },
      { retryErrors: true },
    );

    const gaClientId = '1122334455.1600000000';
    const joined = await requestErasure(
      context,
      {
        email: idn,
        gaClientIds: [gaClientId],
        requestedBy: 'privacy-inbox#new',
        requestedAt: new Date().toISOString(),
      },
      { ledger: hub.ledger },
    );
    expect(joined).toMatchObject({
      joined: true,
      joinedLegacyKey: legacyKey,
      subjectKey: legacyKey,
      workflowId: legacyId,
      requestId: legacyRun.firstExecutionRunId,
    });
    expect(await statusOf(erasureWorkflowId(canonicalKey))).toBeUndefined();

    await hub.vendors.mailchimp.control.clearFaults();
    await legacyRun.executeUpdate(closeSystemUpdate, {
      args: [{ system: 'mailchimp', reason: 'checked by hand', operator: 'ops:test' }],
    });
    const receipt = await awaitReceipt(context, joined);
    expect(receipt.requestId).toBe(legacyRun.firstExecutionRunId);
    expect(receipt.joinedRequests).toEqual([
      expect.objectContaining({ requestedBy: 'privacy-inbox#new', gaClientIdsAdded: 1 }),
    ]);
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.google.status).toBe('submitted');
    expect(JSON.stringify(await hub.vendors.google.control.state())).toContain('1122334455.1600000000');
    expect(await statusOf(erasureWorkflowId(canonicalKey))).toBeUndefined();
  });

  it('starts under the canonical key when no run is open under a legacy key', async () => {
    const { idn, canonicalKey } = person();
    const started = await requestErasure(context, {
      email: idn,
      requestedBy: 'privacy-inbox#plain',
      requestedAt: new Date().toISOString(),
    });
    expect(started.joined).toBe(false);
    expect(started.joinedLegacyKey).toBeUndefined();
    expect(started.subjectKey).toBe(canonicalKey);
    expect((await awaitReceipt(context, started)).subjectKey).toBe(canonicalKey);
  });

  it('hands a consent workflow still running under the legacy key over to the canonical key: one workflow runs, under the canonical key, with the change', async () => {
    const lea = person();
    const { idn, legacyKey, canonicalKey } = lea;
    const legacyId = consentWorkflowId(legacyKey);
    opened.push(legacyId, consentWorkflowId(canonicalKey));
    const timings = { ...context.consentTimings, idleAfter: '10 minutes' };
    const legacyRun = await startConsentRunUnderLegacyKey(hub, context, lea, listId, timings);

    const change = await recordConsentChange(
      { ...context, consentTimings: timings },
      testWithdrawal(idn, 'marketing_email'),
      undefined,
      { ledger: hub.ledger },
    );
    expect(change).toMatchObject({ subjectKey: canonicalKey, mergedLegacyKey: legacyKey });
    expect((await legacyRun.result()).rekeyedTo?.subjectKey).toBe(canonicalKey);
    expect(await statusOf(legacyId)).toBe('COMPLETED');

    const view = await consentViewWhen(
      context.client,
      canonicalKey,
      changeSettled('marketing_email', change.eventId),
      'the change is written under the canonical key',
    );
    expect(view.purposes.marketing_email).toMatchObject({
      decision: 'withdrawn',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect(await statusOf(consentWorkflowId(canonicalKey))).toBe('RUNNING');
    expect((await hub.ledger.listConsentEvents(canonicalKey)).map((e) => e.id)).toEqual([change.eventId]);
    expect((await mailchimpMember(hub.vendors, listId, idn))?.status).toBe('unsubscribed');
  });
});
