import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureStatusView } from '../../domain/erasure.js';
import {
  awaitReceipt,
  type HubClientContext,
  lookupErasure,
  requestErasure,
} from '../../hub-client/erasures.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { hubEnv, runCli, startWorkerProcess, stopAllWorkerProcesses } from '../support/worker-process.js';

const lists = { newsletter: 'e2e-news', events: 'e2e-events' };
const person = (name: string) => ({
  firstName: name,
  lastName: `Testperson${name}`,
  email: `${name.toLowerCase()}.e2e@example.com`,
  gaClientId: `${1000 + name.length}.${Date.now() % 100000}`,
});
const people = {
  full: person('Fullerase'),
  outage: person('Outage'),
  badKey: person('Badkey'),
  killed: person('Killed'),
  twice: person('Twice'),
};

async function waitForStatus(
  context: HubClientContext,
  requestId: string,
  test: (s: ErasureStatusView) => boolean,
) {
  for (let i = 0; i < 480; i++) {
    const found = await lookupErasure(context, requestId);
    if (found.state === 'open' && test(found.status)) return found.status;
    await delay(250);
  }
  throw new Error('status never matched');
}

/**
 * The erasure as users run it: a worker process started by the CLI, the three vendor sandboxes reached
 * through the real SDKs, and the real dev server.
 */
// Each test may start worker processes (about 5 s each to bundle the workflows, far more on a loaded CI machine).
describe('erasure end to end, with a worker process and the three vendor sandboxes', {
  timeout: 240_000,
}, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let worker: Awaited<ReturnType<typeof startWorkerProcess>>;
  let context: HubClientContext;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    temporal = await connectTestTemporal('e2e-erasure');
    vendors = await startVendorSandboxes();
    env = hubEnv(temporal.taskQueue, temporal.secrets, vendors.env);
    context = {
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      subjectKeySecret: temporal.secrets.subjectKeySecret,
      timings: { attentionAfter: '2 minutes', operatorDeadline: '10 minutes', heartbeatTimeout: '3 seconds' },
    };
    const everyone = Object.values(people);
    await vendors.dynamics.control.seed({
      contacts: everyone.map((p) => ({
        firstname: p.firstName,
        lastname: p.lastName,
        emailaddress1: p.email,
        new_gaclientid: p.gaClientId,
      })),
      leads: [
        {
          firstname: people.full.firstName,
          lastname: people.full.lastName,
          emailaddress2: people.full.email.toUpperCase(),
        },
      ],
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: lists.newsletter,
          name: 'Newsletter',
          members: everyone.map((p) => ({ email_address: p.email, status: 'subscribed' as const })),
        },
        {
          id: lists.events,
          name: 'Events',
          members: [{ email_address: people.full.email, status: 'subscribed' as const }],
        },
      ],
    });
    worker = await startWorkerProcess(env);
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    // A test that failed half-way may have left a worker it was starting.
    await stopAllWorkerProcesses();
    await vendors?.close();
    await temporal?.close();
  });

  const request = (email: string) => ({ email, requestedBy: 'e2e', requestedAt: new Date().toISOString() });
  const vendorStateText = async () =>
    JSON.stringify([
      await vendors.dynamics.control.state(),
      await vendors.mailchimp.control.state(),
    ]).toLowerCase();

  it('erases a person held in all three tools and lists every record id in the receipt', async () => {
    const started = await requestErasure(context, request(people.full.email));
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.dynamics.records.map((r) => r.kind).sort()).toEqual(['contact', 'lead']);
    // Dataverse's audit history of the deleted rows went too (DeleteRecordChangeHistory), and the receipt says so.
    expect(receipt.systems.dynamics.records.map((r) => r.auditHistoryRemoved)).toEqual([true, true]);
    expect(receipt.systems.mailchimp.status).toBe('erased');
    expect(receipt.systems.mailchimp.records.map((r) => r.container).sort()).toEqual([
      lists.events,
      lists.newsletter,
    ]);
    expect(receipt.systems.google).toMatchObject({
      status: 'submitted',
      // The receipt keeps a keyed id, never the client id itself (issue 16).
      records: [
        {
          id: keyedVendorId(temporal.secrets.subjectKeySecret, 'google', people.full.gaClientId),
          result: 'submitted',
        },
      ],
    });
    expect(JSON.stringify(receipt)).not.toContain(people.full.gaClientId);
    expect(await vendorStateText()).not.toContain(people.full.email);
    expect(JSON.stringify(await vendors.google.control.state())).toContain(people.full.gaClientId);
    expect(JSON.stringify(receipt)).not.toContain(people.full.email);
    expect(JSON.stringify(receipt)).not.toContain(people.full.lastName);
  });

  it('finds a person in no tool and completes with not_found everywhere', async () => {
    const receipt = await awaitReceipt(
      context,
      await requestErasure(context, request('nobody.e2e@example.com')),
    );
    expect(receipt.outcome).toBe('completed');
    expect(Object.values(receipt.systems).map((s) => s.status)).toEqual([
      'not_found',
      'not_found',
      'not_found',
    ]);
  });

  it('waits out a vendor outage and completes once it heals, with no operator', async () => {
    await vendors.mailchimp.control.outage(true);
    const started = await requestErasure(context, request(people.outage.email));
    await waitForStatus(context, started.requestId, (s) => s.systems.dynamics.status === 'erased');
    await delay(2000);
    expect((await lookupErasure(context, started.requestId)).state).toBe('open');
    await vendors.mailchimp.control.outage(false);
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp).toMatchObject({ status: 'erased' });
    // One round, no operator: the calls refused during the outage and the one that took it are all counted.
    expect(receipt.systems.mailchimp.attempts).toBeGreaterThanOrEqual(2);
  });

  it('turns a bad Mailchimp key into needs attention, and a retry after fixing the key into erased', async () => {
    await worker.kill('SIGTERM');
    worker = await startWorkerProcess({ ...env, MAILCHIMP_API_KEY: `${'0'.repeat(32)}-us21` });
    const started = await requestErasure(context, request(people.badKey.email));
    const status = await waitForStatus(context, started.requestId, (s) => s.status === 'needs_attention');
    expect(status.systems.mailchimp.failure).toMatchObject({ type: 'NonRetryableVendorError', status: 401 });
    const listed = await runCli(['erasures', '--status', 'needs_attention', '--json'], env);
    expect(JSON.parse(listed.stdout).map((l: { requestId: string }) => l.requestId)).toContain(
      started.requestId,
    );

    await worker.kill('SIGTERM');
    worker = await startWorkerProcess(env);
    const retried = await runCli(['retry', started.requestId, '--system', 'mailchimp'], env);
    expect(retried.code).toBe(0);
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.mailchimp.status).toBe('erased');
  });

  it('survives a worker killed with SIGKILL mid-erasure and deletes no record twice', async () => {
    await vendors.dynamics.control.clearRequests();
    await vendors.mailchimp.control.clearRequests();
    await vendors.dynamics.control.setLatency(1500);
    await vendors.mailchimp.control.setLatency(1500);
    const planted = (
      await vendors.dynamics.control.state<{ contacts: { contactid: string; emailaddress1?: string }[] }>()
    ).contacts
      .filter((row) => row.emailaddress1 === people.killed.email)
      .map((row) => `contact:${row.contactid}`);
    const started = await requestErasure(context, request(people.killed.email));
    await delay(2500);
    await worker.kill('SIGKILL');
    await vendors.dynamics.control.setLatency(0);
    await vendors.mailchimp.control.setLatency(0);
    worker = await startWorkerProcess(env);
    const receipt = await awaitReceipt(context, started);
    expect(receipt.outcome).toBe('completed');
    expect(receipt.systems.dynamics.status).toBe('erased');
    expect(receipt.systems.mailchimp.status).toBe('erased');
    // Exactly the records planted, whichever attempt deleted them.
    expect(receipt.systems.dynamics.records.map((r) => `${r.kind}:${r.id}`)).toEqual(planted);
    expect(receipt.systems.mailchimp.records.map((r) => `${r.kind}:${r.container}`)).toEqual([
      `member:${lists.newsletter}`,
    ]);
    for (const log of [
      await vendors.dynamics.control.requests(),
      await vendors.mailchimp.control.requests(),
    ]) {
      const successfulDeletes = log
        .filter((e) => (e.method === 'DELETE' || e.path.endsWith('delete-permanent')) && e.status < 300)
        .map((e) => e.path);
      expect(successfulDeletes.length).toBeGreaterThan(0);
      expect(new Set(successfulDeletes).size).toBe(successfulDeletes.length);
    }
    expect(await vendorStateText()).not.toContain(people.killed.email);
  });

  it('gives two concurrent erase commands for one person one workflow and one receipt', async () => {
    // Each CLI process takes a while to start on a busy machine; an unreachable CRM keeps the first erasure
    // running (retrying) until both have asked.
    await vendors.dynamics.control.outage(true);
    const [first, second] = await Promise.all([
      runCli(['erase', '--email', people.twice.email, '--json'], env),
      runCli(['erase', '--email', ` ${people.twice.email.toUpperCase()}`, '--json'], env),
    ]);
    await vendors.dynamics.control.outage(false);
    expect([first.code, second.code]).toEqual([0, 0]);
    const a = JSON.parse(first.stdout);
    const b = JSON.parse(second.stdout);
    expect(a.requestId).toBe(b.requestId);
    const receipt = await runCli(['receipt', a.requestId, '--json'], env);
    if (receipt.code !== 0) throw new Error(receipt.stderr + receipt.stdout);
    expect(JSON.parse(receipt.stdout)).toMatchObject({ requestId: a.requestId, subjectKey: a.subjectKey });
  });

  it('keeps the email and the name out of the Temporal history of a finished erasure', async () => {
    const started = await requestErasure(context, request(people.full.email));
    await awaitReceipt(context, started);
    const text = (await rawHistoryText(temporal.client, started.workflowId)).toLowerCase();
    for (const p of Object.values(people)) {
      expect(text).not.toContain(p.email);
      expect(text).not.toContain(p.lastName.toLowerCase());
    }
  });

  it('rejects a bad email from the CLI with a clear error and starts nothing', async () => {
    const result = await runCli(['erase', '--email', 'not-an-address'], env);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('--email: not a valid email address: has no @');
  });

  it('never writes an email or a name to the worker log', () => {
    const log = worker.output().toLowerCase();
    expect(log).toContain('connector call succeeded');
    for (const p of Object.values(people)) {
      expect(log).not.toContain(p.email);
      expect(log).not.toContain(p.lastName.toLowerCase());
    }
  });
});
