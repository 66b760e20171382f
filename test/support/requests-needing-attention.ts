import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import { awaitAccess, requestAccess } from '../../hub-client/access.js';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { consentStatusQuery } from '../../workflows/consent-definitions.js';
import { personInCrm } from './crm-people.js';
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
 * A person named `first last` in Dynamics (personInCrm: `email`, or a fresh address), subscribed in
 * Mailchimp's `listId`, whose every Mailchimp member call is refused for good (403, with `message` as
 * Mailchimp's detail when given). Returns the address.
 */
export async function personRefusedByMailchimp(
  hub: Hub,
  person: { first: string; last: string; listId: string; email?: string; message?: string },
): Promise<string> {
  const { listId, message } = person;
  const email = await personInCrm(hub, person);
  await hub.vendors.mailchimp.control.seed({
    lists: [{ id: listId, name: 'News', members: [{ email_address: email, status: 'subscribed' }] }],
  });
  await hub.vendors.mailchimp.control.fail({
    path: `members/${subscriberHash(email)}`,
    status: 403,
    ...(message ? { message } : {}),
  });
  return email;
}

/**
 * A withdrawal from marketing email for a person refused by Mailchimp (personRefusedByMailchimp): the change
 * stays open, its workflow running and its Mailchimp lane waiting for an operator. Returns what
 * recordConsentChange accepted and the status once the lane needs attention. The evidence carries
 * `requestRef`, and `note` when given.
 */
export async function openConsentChangeNeedingAttention(
  hub: Hub,
  context: ConsentClientContext,
  person: {
    first: string;
    last: string;
    listId: string;
    requestRef: string;
    note?: string;
    email?: string;
    message?: string;
  },
) {
  const { requestRef, note } = person;
  const email = await personRefusedByMailchimp(hub, person);
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
  const status = await waitFor('Mailchimp to need attention', async () => {
    const status = await handle.query(consentStatusQuery);
    return status.systems.mailchimp.status === 'needs_attention' ? status : undefined;
  }).catch(async (error: unknown) => {
    throw new Error(`${String(error)}: ${JSON.stringify(await handle.query(consentStatusQuery))}`);
  });
  return { ...accepted, status };
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
  const { email, requestedBy } = person;
  await personInCrm(hub, person);
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
