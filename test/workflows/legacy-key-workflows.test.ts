import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasureRequestSchema } from '../../domain/erasure.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import { legacySubjectKeysFor, subjectKeyFor } from '../../privacy/subject-key.js';
import type { consentWorkflow } from '../../workflows/consent.js';
import { consentStatusQuery, consentWorkflowId } from '../../workflows/consent-definitions.js';
import type { erasureWorkflow } from '../../workflows/erasure.js';
import {
  closeSystemUpdate,
  erasureStatusQuery,
  erasureWorkflowId,
} from '../../workflows/erasure-definitions.js';
import { subjectKeyAttribute } from '../../workflows/search-attribute-keys.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const listId = 'legacy-key-news';
let counter = 0;
const unique = () => `${Date.now().toString(36)}${counter++}`;

/**
 * Issue 15: a workflow started before the canonical subject key runs under the key its spelling of the
 * address had then. A new request for the same person, computed under the canonical key, joins (erasure)
 * or takes over (consent) that run instead of starting a second workflow beside it, and says so.
 */
describe('requests meet a workflow still running under a legacy subject key', { timeout: 180_000 }, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ConsentClientContext;
  let secret: string;
  /** The key versions before the canonical form gave an address: the HMAC of its normalised spelling. */
  const olderKey = (normalised: string) =>
    createHmac('sha256', secret).update(normalised, 'utf8').digest('hex');
  const opened: string[] = [];

  beforeAll(async () => {
    hub = await startHubWithVendors('legacy-key-workflows');
    context = hub.temporal.context();
    secret = context.subjectKeySecret;
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'News', members: [] }] });
  });
  afterAll(async () => {
    for (const workflowId of opened) {
      await context.client.workflow
        .getHandle(workflowId)
        .terminate('test over')
        .catch(() => undefined);
    }
    await hub?.close();
  });

  const statusOf = async (workflowId: string) =>
    (
      await context.client.workflow
        .getHandle(workflowId)
        .describe()
        .catch((error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return undefined;
          throw error;
        })
    )?.status.name;
  async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 240; i++) {
      const value = await read().catch(() => undefined);
      if (value !== undefined) return value;
      await delay(250);
    }
    throw new Error(`never: ${what}`);
  }

  /** An address held under its punycode spelling, whose older key is not the canonical one. */
  function person() {
    const punycode = `lea${unique()}@xn--bcher-kva.example`;
    const idn = punycode.replace('xn--bcher-kva', 'bücher');
    const legacyKey = olderKey(punycode);
    const canonicalKey = subjectKeyFor(idn, secret);
    expect(legacyKey).not.toBe(canonicalKey);
    expect(legacySubjectKeysFor(idn, secret)).toContain(legacyKey);
    return { punycode, idn, legacyKey, canonicalKey };
  }

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
    await until('mailchimp needs attention in the legacy run', async () => {
      const status = await legacyRun.query(erasureStatusQuery);
      return status.systems.mailchimp.status === 'needs_attention' ? status : undefined;
    });

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
    const { punycode, idn, legacyKey, canonicalKey } = person();
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Lea', lastname: 'Legacy', emailaddress1: punycode }],
    });
    await hub.vendors.mailchimp.control.seed({
      // Mailchimp's consent write looks the member up by the spelling it is given (the IDN one here).
      lists: [{ id: listId, name: 'News', members: [{ email_address: idn, status: 'subscribed' }] }],
    });
    const legacyId = consentWorkflowId(legacyKey);
    opened.push(legacyId, consentWorkflowId(canonicalKey));
    const timings = { ...context.consentTimings, idleAfter: '10 minutes' };
    const legacyRun = await context.client.workflow.start<typeof consentWorkflow>('consentWorkflow', {
      taskQueue: context.taskQueue,
      workflowId: legacyId,
      args: [{ subjectKey: legacyKey, email: punycode, timings }],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: legacyKey }],
    });
    await until('the legacy run is up', () => legacyRun.query(consentStatusQuery));

    const change = await recordConsentChange(
      { ...context, consentTimings: timings },
      {
        email: idn,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'test',
        evidence: { channel: 'test' },
      },
      undefined,
      { ledger: hub.ledger },
    );
    expect(change).toMatchObject({ subjectKey: canonicalKey, mergedLegacyKey: legacyKey });
    expect((await legacyRun.result()).rekeyedTo?.subjectKey).toBe(canonicalKey);
    expect(await statusOf(legacyId)).toBe('COMPLETED');

    const canonical = context.client.workflow.getHandle<typeof consentWorkflow>(
      consentWorkflowId(canonicalKey),
    );
    const view = await until('the change is written under the canonical key', async () => {
      const v = await canonical.query(consentStatusQuery);
      return v.purposes.marketing_email?.eventId === change.eventId && v.inFlight === 0 ? v : undefined;
    });
    expect(view.purposes.marketing_email).toMatchObject({
      decision: 'withdrawn',
      systems: { dynamics: 'applied', mailchimp: 'applied' },
    });
    expect(await statusOf(consentWorkflowId(canonicalKey))).toBe('RUNNING');
    expect((await hub.ledger.listConsentEvents(canonicalKey)).map((e) => e.id)).toEqual([change.eventId]);
    const member = (
      await hub.vendors.mailchimp.control.state<{
        lists: { id: string; members: { email_address: string; status: string }[] }[];
      }>()
    ).lists
      .find((l) => l.id === listId)
      ?.members.find((m) => m.email_address === idn);
    expect(member?.status).toBe('unsubscribed');
  });
});
