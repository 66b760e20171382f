import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import { awaitAccess, requestAccess } from '../../hub-client/access.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentStatusQuery } from '../../workflows/consent-definitions.js';
import type { startHubWithVendors } from './hub-with-vendors.js';
import { waitFor } from './waiting.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

/**
 * Request timings for a test in which a system waits for an operator: a retrying system needs attention after
 * a minute, and the operator's deadline is five minutes on, both longer than such a test runs.
 */
export const operatorWaitTimings = {
  attentionAfter: '1 minute',
  operatorDeadline: '5 minutes',
  heartbeatTimeout: '10 seconds',
};

/**
 * A withdrawal from marketing email for a fresh person named `first last` in Dynamics, subscribed in
 * Mailchimp's `listId`, whose Mailchimp write is refused for good (403): the change stays open, its
 * workflow running and its Mailchimp lane waiting for an operator. Returns what recordConsentChange
 * accepted once the lane needs attention. The evidence carries `requestRef`, and `note` when given.
 */
export async function openConsentChangeNeedingAttention(
  hub: Hub,
  context: ConsentClientContext,
  person: { first: string; last: string; listId: string; requestRef: string; note?: string },
) {
  const { first, last, listId, requestRef, note } = person;
  const email = `${first.slice(0, 2).toLowerCase()}.${Date.now()}@example.com`;
  await hub.vendors.dynamics.control.seed({
    contacts: [{ firstname: first, lastname: last, emailaddress1: email }],
  });
  await hub.vendors.mailchimp.control.seed({
    lists: [{ id: listId, name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
  });
  await hub.vendors.mailchimp.control.fail({ path: `members/${subscriberHash(email)}`, status: 403 });
  const accepted = await recordConsentChange(
    context,
    {
      email,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'privacy-inbox',
      evidence: { requestRef, ...(note ? { note } : {}) },
    },
    undefined,
    { ledger: hub.ledger },
  );
  const handle = hub.temporal.client.workflow.getHandle(accepted.workflowId);
  await waitFor('Mailchimp to need attention', async () => {
    const status = await handle.query(consentStatusQuery);
    return status.systems.mailchimp.status === 'needs_attention' ? status : undefined;
  }).catch(async (error: unknown) => {
    throw new Error(`${String(error)}: ${JSON.stringify(await handle.query(consentStatusQuery))}`);
  });
  return accepted;
}

/**
 * An access request for `email`, held in Dynamics as `first last`, whose Mailchimp lookup is refused for good
 * (403): the request stays open, waiting for an operator there. Returns the context it was asked under
 * (operator timings, one-hour exports), what requestAccess accepted, and the status it waits in.
 */
export async function openAccessNeedingAttention(
  hub: Hub,
  context: ConsentClientContext,
  person: { email: string; first: string; last: string; requestedBy: string },
) {
  const { email, first, last, requestedBy } = person;
  await hub.vendors.dynamics.control.seed({
    contacts: [{ firstname: first, lastname: last, emailaddress1: email }],
  });
  await hub.vendors.mailchimp.control.fail({ path: `members/${subscriberHash(email)}`, status: 403 });
  const accessContext = { ...context, timings: operatorWaitTimings, exportTtl: '1 hour' };
  const started = await requestAccess(
    accessContext,
    { email, requestedBy, requestedAt: new Date().toISOString() },
    { ledger: hub.ledger },
  );
  const status = await awaitAccess(accessContext, started.requestId);
  return { accessContext, started, status };
}
