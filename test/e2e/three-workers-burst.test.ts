import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsentClientContext, recordConsentChange } from '../../hub-client/consent.js';
import { connectTestTemporal } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { hubEnv, startWorkerProcess, stopAllWorkerProcesses } from '../support/worker-process.js';

const people = 60;
const audiences = ['three-news', 'three-events'];

/**
 * Issue 21: three worker processes share the vendors' limits through their own task queues and
 * CONSENT_HUB_WORKERS=3 (each a third of Mailchimp's 10 connections and of Dataverse's cap), so a burst
 * of opt-outs at 50 ms vendor latency gets no 429 however the work spreads over them.
 */
describe('three worker processes against one dev server', { timeout: 420_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let workers: Awaited<ReturnType<typeof startWorkerProcess>>[] = [];
  let context: ConsentClientContext;
  const emails = Array.from({ length: people }, (_, i) => `three.${i}@example.com`);

  beforeAll(async () => {
    temporal = await connectTestTemporal('three-workers');
    vendors = await startVendorSandboxes();
    const timings = {
      attentionAfter: '10 minutes',
      operatorDeadline: '10 minutes',
      heartbeatTimeout: '30 seconds',
    };
    context = { ...temporal.context(), timings, consentTimings: { ...timings, idleAfter: '2 seconds' } };
    await vendors.dynamics.control.seed({
      contacts: emails.map((email, i) => ({
        firstname: 'Three',
        lastname: `Person${i}`,
        emailaddress1: email,
      })),
    });
    await vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({
        id,
        name: id,
        members: emails.map((email) => ({ email_address: email, status: 'subscribed' })),
      })),
    });
    const env = { ...hubEnv(temporal.taskQueue, temporal.secrets, vendors.env), CONSENT_HUB_WORKERS: '3' };
    workers = await Promise.all([1, 2, 3].map(() => startWorkerProcess(env)));
    await Promise.all([vendors.dynamics, vendors.mailchimp].map((v) => v.control.setLatency(50)));
    await Promise.all([vendors.dynamics, vendors.mailchimp].map((v) => v.control.clearRequests()));
  });
  afterAll(async () => {
    await stopAllWorkerProcesses();
    await vendors?.close();
    await temporal?.close();
  });

  it('carries a burst of 60 opt-outs to Dynamics and Mailchimp with no 429, the work spread over all three', async () => {
    const occurredAt = new Date().toISOString();
    await Promise.all(
      emails.map((email) =>
        recordConsentChange(context, {
          email,
          purpose: 'marketing_email',
          decision: 'withdrawn',
          occurredAt,
          source: 'three-workers-test',
        }),
      ),
    );

    type Contact = { emailaddress1?: string; donotbulkemail?: boolean };
    type Member = { email_address: string; status: string };
    let remaining = people;
    for (let i = 0; i < 300 && remaining > 0; i++) {
      await delay(1000);
      const contacts = (await vendors.dynamics.control.state<{ contacts: Contact[] }>()).contacts;
      const lists = (await vendors.mailchimp.control.state<{ lists: { id: string; members: Member[] }[] }>())
        .lists;
      const optedOut = new Set(contacts.filter((c) => c.donotbulkemail).map((c) => c.emailaddress1));
      const unsubscribedEverywhere = (email: string) =>
        audiences.every((id) =>
          lists
            .find((l) => l.id === id)
            ?.members.some((m) => m.email_address === email && m.status === 'unsubscribed'),
        );
      remaining = emails.filter((e) => !optedOut.has(e) || !unsubscribedEverywhere(e)).length;
    }
    expect(remaining).toBe(0);

    const logs = [
      ...(await vendors.dynamics.control.requests()),
      ...(await vendors.mailchimp.control.requests()),
    ];
    expect(logs.filter((e) => e.method === 'PATCH').length).toBeGreaterThanOrEqual(people * 3);
    expect(logs.filter((e) => e.status === 429)).toEqual([]);
    // Every worker took vendor activities from the queues, so the limits held for the three together.
    for (const worker of workers) expect(worker.output()).toContain('connector call succeeded');
  });
});
