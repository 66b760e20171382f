import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessStatusView } from '../../domain/access.js';
import { type AccessClientContext, awaitAccess, requestAccess } from '../../hub-client/access.js';
import { lookupErasure, requestErasure } from '../../hub-client/erasures.js';
import { awaitRectification, requestRectification } from '../../hub-client/rectifications.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';
import { operatorWaitTimings } from '../support/requests-needing-attention.js';
import { uniqueEmail } from '../support/unique-email.js';
import { waitFor } from '../support/waiting.js';
import { workflowStatus } from '../support/workflow-runs.js';

const listId = 'accesserased1';

/**
 * Issue 16 with issue 18's access: an access request for a person already erased (by their address, or by an
 * address a rectification moved away from) seals their address in its run under a data key minted for it;
 * that key must go once the run has closed, as an erased person's withdrawal's does, or the address stays
 * readable in the run's history. Payloads sealed with each person's key, as production does.
 */
describe("an erased person's access or rectification request leaves no live data key", {
  timeout: 300_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: AccessClientContext;
  let secret: string;

  beforeAll(async () => {
    hub = await startHubWithVendors('access-of-erased', { accessExports: true, subjectKeys: true });
    await hub.vendors.mailchimp.control.seed({ lists: [{ id: listId, name: 'Rights', members: [] }] });
    context = { ...hub.temporal.context(), timings: { ...operatorWaitTimings }, exportTtl: '1 hour' };
    secret = hub.temporal.secrets.subjectKeySecret;
  });
  afterAll(async () => {
    await hub?.close();
  });

  const key = (email: string) => subjectKeyFor(email, secret);
  const seedPerson = async (email: string) => {
    await hub.vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Erna', lastname: 'Accessed', emailaddress1: email }],
    });
    await hub.vendors.mailchimp.control.seed({
      lists: [{ id: listId, name: 'Rights', members: [{ email_address: email, status: 'subscribed' }] }],
    });
  };
  const rectify = async (email: string, newEmail: string) => {
    const receipt = await awaitRectification(
      context,
      await requestRectification(
        context,
        {
          email,
          set: { email: newEmail },
          requestedBy: 'privacy-inbox#18',
          requestedAt: new Date().toISOString(),
        },
        { ledger: hub.ledger },
      ),
    );
    expect(receipt.rekeyed?.to).toBe(key(newEmail));
  };
  /** Waits for the export, closing (as an operator would) a system that needs attention. */
  const ready = async (requestId: string): Promise<AccessStatusView> => {
    for (;;) {
      const status = await awaitAccess(context, requestId);
      if (status.status !== 'needs_attention') return status;
      const handle = context.client.workflow.getHandle(accessWorkflowId(requestId));
      for (const [system, state] of Object.entries(status.systems))
        if (state.status === 'needs_attention')
          await handle.executeUpdate('closeSystem', {
            args: [{ system, reason: 'not part of this test', operator: 'test' }],
          });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('access by the old address of a person erased under the new one leaves no live data key behind: the key its run sealed the address with goes once the run has closed', async () => {
    const oldEmail = uniqueEmail('access.erased.old');
    const newEmail = uniqueEmail('access.erased.new');
    await seedPerson(oldEmail);
    await rectify(oldEmail, newEmail);
    const erasure = await requestErasure(
      context,
      { email: newEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    await waitFor(
      "the erasure completes and its shredding destroys the person's data keys",
      async () => {
        // Queried before its first workflow task, a run has no query handler yet: asked again.
        const found = await lookupErasure(context, erasure.requestId).catch(() => undefined);
        if (found?.state !== 'completed') return undefined;
        return (await hub.ledger.activeSubjectDataKey(key(newEmail))) ? undefined : true;
      },
      { tries: 600, everyMs: 200 },
    );
    const shortLived = { ...context, exportTtl: '2 seconds' };
    const byOld = await requestAccess(
      shortLived,
      { email: oldEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    expect(byOld.subjectKey).toBe(key(newEmail));
    // The run sealed the erased person's address under a key minted for it.
    expect(await hub.ledger.activeSubjectDataKey(key(newEmail))).toBeDefined();
    await ready(byOld.requestId);
    await waitFor(
      'the access run closes at its export expiry',
      async () =>
        (await workflowStatus(context.client, accessWorkflowId(byOld.requestId))) === 'RUNNING'
          ? undefined
          : true,
      { tries: 300, everyMs: 200 },
    );
    await waitFor(
      'no live data key is left for the erased person',
      async () => ((await hub.ledger.activeSubjectDataKey(key(newEmail))) ? undefined : true),
      { tries: 100, everyMs: 200 },
    );
  });

  it('a rectification of a person already erased leaves no live data key: the key its run sealed the erased address with goes once the run has closed', async () => {
    const erasedEmail = uniqueEmail('rectify.erased');
    const laterEmail = uniqueEmail('rectify.erased.later');
    await seedPerson(erasedEmail);
    const erasure = await requestErasure(
      context,
      { email: erasedEmail, requestedBy: 'privacy-inbox#18', requestedAt: new Date().toISOString() },
      { ledger: hub.ledger },
    );
    await waitFor(
      "the erasure completes and its shredding destroys the person's data keys",
      async () => {
        // Queried before its first workflow task, a run has no query handler yet: asked again.
        const found = await lookupErasure(context, erasure.requestId).catch(() => undefined);
        if (found?.state !== 'completed') return undefined;
        return (await hub.ledger.activeSubjectDataKey(key(erasedEmail))) ? undefined : true;
      },
      { tries: 600, everyMs: 200 },
    );
    const receipt = await awaitRectification(
      context,
      await requestRectification(
        context,
        {
          email: erasedEmail,
          set: { email: laterEmail },
          requestedBy: 'privacy-inbox#18',
          requestedAt: new Date().toISOString(),
        },
        { ledger: hub.ledger },
      ),
    );
    // The tombstone stays with the erased address: nothing re-keyed.
    expect(receipt.rekeyed).toBeUndefined();
    expect(await hub.ledger.getTombstone(key(erasedEmail))).toBeDefined();
    await waitFor(
      'no live data key is left for the erased person',
      async () => ((await hub.ledger.activeSubjectDataKey(key(erasedEmail))) ? undefined : true),
      { tries: 100, everyMs: 200 },
    );
  });
});
