import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconciliationReport } from '../../domain/reconciliation.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

const people = 3000;

/** A full reconciliation over a few thousand people in each tool; the figures are printed, not asserted. */
describe('reconciling a few thousand sandbox members', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;

  beforeAll(async () => {
    hub = await startHubWithVendors('reconcile-many');
    const { vendors } = hub;
    const emails = Array.from({ length: people }, (_, i) => `many.${i}@example.com`);
    await vendors.dynamics.control.seed({
      contacts: emails.map((email, i) => ({ firstname: 'Many', lastname: `P${i}`, emailaddress1: email })),
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: 'many-news',
          name: 'News',
          members: emails.map((email) => ({ email_address: email, status: 'subscribed' })),
        },
      ],
    });
    await vendors.dynamics.control.clearRequests();
    await vendors.mailchimp.control.clearRequests();
  });
  afterAll(() => hub?.close());

  it('reads every person in both tools and completes', { timeout: 600_000 }, async () => {
    const started = performance.now();
    const { temporal, vendors } = hub;
    const report = (await temporal.client.workflow.execute('reconciliationWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: `recon-many-${Date.now()}`,
      args: [{ full: true, pageSize: 500 }],
    })) as ReconciliationReport;
    const elapsed = performance.now() - started;
    expect(report.systems.mailchimp.people).toBe(people);
    expect(report.systems.dynamics.people).toBe(people);
    const calls =
      (await vendors.dynamics.control.requests()).length +
      (await vendors.mailchimp.control.requests()).length;
    process.stdout.write(
      `\n[reconcile] ${people} people in each of Mailchimp and Dynamics: ${Math.round(elapsed)} ms, ${calls} vendor calls (${(
        calls / (2 * people)
      ).toFixed(
        3,
      )} per person-record), ${report.systems.mailchimp.pages + report.systems.dynamics.pages} pages\n`,
    );
  });
});
