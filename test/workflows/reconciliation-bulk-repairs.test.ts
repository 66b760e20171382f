import { setTimeout as delay } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkRepairsFrom } from '../../activities/reconciliation-activities.js';
import type { ReconciliationReport } from '../../domain/reconciliation.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;
const listId = 'recon-bulk-news';

/**
 * Issue 21: a reconciliation page with many people's opt-outs to carry goes through the bulk path (one batch
 * workflow, the vendors' batch calls) instead of a consent workflow per person, and each person's evidence
 * is exactly what the per-person route records: their own ledger event, source and outcomes.
 */
describe('reconciliation carries many opt-outs through the bulk path', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;

  beforeAll(async () => {
    hub = await startHubWithVendors('reconcile-bulk');
  });
  afterAll(() => hub?.close());

  it('records and writes each person’s withdrawal, with no consent workflow per person', {
    timeout: 240_000,
  }, async () => {
    const { temporal, vendors, ledger } = hub;
    const secret = temporal.context().subjectKeySecret;
    const people = Array.from({ length: bulkRepairsFrom + 2 }, (_, n) => {
      const email = `bulk.recon.${Date.now()}.${n}@example.com`;
      return { email, subjectKey: subjectKeyFor(email, secret) };
    });
    await vendors.dynamics.control.seed({
      contacts: people.map(({ email }, n) => ({
        firstname: 'Bulk',
        lastname: `R${n}`,
        emailaddress1: email,
      })),
    });
    // Unsubscribed in Mailchimp itself: opt-outs the hub never saw.
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: listId,
          name: 'News',
          members: people.map(({ email }) => ({ email_address: email, status: 'unsubscribed' as const })),
        },
      ],
    });

    const runId = `recon-bulk-${Date.now()}`;
    const report = (await temporal.client.workflow.execute('reconciliationWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: runId,
      args: [{ runId, full: true, pageSize: 100 }],
    })) as ReconciliationReport;
    expect(report.drift.opt_out_not_propagated).toBeGreaterThanOrEqual(people.length);

    const contacts = async () =>
      (await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.filter((c) =>
        people.some((p) => p.email === c.emailaddress1),
      );
    for (let i = 0; i < 300; i++) {
      const done = (await contacts()).filter((c) => c.donotbulkemail === true).length;
      const recorded = await Promise.all(
        people.map(
          async ({ subjectKey }) =>
            (await consentStateFromLedger(ledger, subjectKey)).outcomes.marketing_email?.dynamics,
        ),
      );
      if (done === people.length && recorded.every((o) => o === 'applied')) break;
      await delay(200);
    }
    expect((await contacts()).map((c) => c.donotbulkemail)).toEqual(people.map(() => true));

    for (const { subjectKey } of people) {
      const events = await ledger.listConsentEvents(subjectKey);
      expect(
        events.map((e) => `${e.purpose}:${e.decision}:${e.source}:${e.evidence.requestRef}`).sort(),
      ).toEqual(
        ['event_invitations', 'marketing_email', 'product_information'].map(
          (purpose) => `${purpose}:withdrawn:reconciliation:mailchimp:reconciliation:${runId}`,
        ),
      );
      expect((await consentStateFromLedger(ledger, subjectKey)).outcomes.marketing_email).toMatchObject({
        dynamics: 'applied',
      });
      // The bulk path served them: no workflow of their own was started.
      const own = await temporal.client.workflow
        .getHandle(consentWorkflowId(subjectKey))
        .describe()
        .catch((error: unknown) => {
          if (error instanceof WorkflowNotFoundError) return undefined;
          throw error;
        });
      expect(own).toBeUndefined();
    }
  });
});
