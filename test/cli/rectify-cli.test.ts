import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { RectifyResult } from '../../connectors/connector.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import { addCalendarMonths } from '../../domain/request-deadline.js';
import type { SystemName } from '../../domain/systems.js';
import { actOnRequest } from '../../hub-client/requests.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { rectificationStatusQuery } from '../../workflows/rectification-definitions.js';
import { dueAtAttribute } from '../../workflows/search-attribute-keys.js';
import { freshApiKey } from '../api/api-test-kit.js';
import { startCliHub } from '../support/cli-hub.js';
import { waitFor as eventually } from '../support/waiting.js';
import { cli, stubConnectors } from './cli-test-kit.js';

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;
const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The CLI's stand-in connectors, with a `rectify` in Dynamics and Mailchimp that fails as told. */
function rectifyingStubs() {
  const stubs = stubConnectors();
  const rectifyCalls: Record<SystemName, number> = { dynamics: 0, mailchimp: 0, google: 0 };
  for (const system of ['dynamics', 'mailchimp'] as const) {
    (stubs.connectors[system] as unknown as Record<string, unknown>).rectify =
      async (): Promise<RectifyResult> => {
        rectifyCalls[system] += 1;
        if (stubs.behaviour[system] === 'bad-credentials')
          throw new NonRetryableVendorError({
            system,
            operation: 'rectify',
            status: 401,
            reason: 'API Key Invalid',
          });
        if (stubs.behaviour[system] === 'unavailable')
          throw new RetryableVendorError({
            system,
            operation: 'rectify',
            status: 503,
            reason: 'Service Unavailable',
          });
        return {
          outcome: 'rectified',
          records: [{ kind: 'contact', id: 'c-1', result: 'rectified', before: { firstname: 'Old' } }],
        };
      };
  }
  return { ...stubs, connectors: stubs.connectors as ConnectorSet, rectifyCalls };
}

describe('an operator acts on a rectification as on any request (CLI and API)', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let temporal: typeof hub.temporal;
  let ledger: Ledger;
  const stubs = rectifyingStubs();

  beforeAll(async () => {
    hub = await startCliHub('cli-rectify', stubs.connectors, { apiKey: freshApiKey() });
    ({ temporal, ledger } = hub);
  });
  afterAll(() => hub?.close());

  const api = (...call: Parameters<typeof hub.api>) => hub.api(...call);

  const waitFor = <T>(probe: () => Promise<T | undefined>, what: string) =>
    eventually(what, probe, { tries: 160 });

  const rectifyJson = async (...args: string[]) => {
    const run = await cli('rectify', '--email', uniqueEmail('rect'), ...args, '--json');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as { requestId: string; subjectKey: string; dueAt: string };
  };

  it('receipt, retry and close find a rectification by its id; its log shows the operator actions', async () => {
    stubs.behaviour.mailchimp = 'bad-credentials';
    const { requestId } = await rectifyJson('--set', 'firstname=Ada');
    const waiting = await waitFor(async () => {
      const run = await cli('receipt', requestId);
      return run.code === 3 ? run : undefined;
    }, 'needs attention');
    expect(waiting.stdout).toContain(`Rectification ${requestId} is needs_attention`);
    expect(waiting.stdout).toMatch(/mailchimp\s+needs_attention\s+API Key Invalid \(HTTP 401\)/);
    expect(waiting.stdout).toContain(`consent-hub retry ${requestId} --system mailchimp`);

    // The API shows it too, per system, by the same id.
    const shown = await api('GET', `/v1/requests/${requestId}`);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({
      kind: 'rectification',
      requestId,
      rectification: {
        state: 'open',
        status: {
          status: 'needs_attention',
          systems: { mailchimp: { status: 'needs_attention', failure: { reason: 'API Key Invalid' } } },
        },
      },
      deadline: { kind: 'rectification', requestId },
    });

    // Retry by the CLI while the cause persists: it needs attention again; then close it by the API.
    const retried = await cli('retry', requestId, '--system', 'mailchimp', '--operator', 'ops:ann', '--json');
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({
      kind: 'rectification',
      recorded: { action: 'retry', system: 'mailchimp', operator: 'ops:ann' },
    });
    await waitFor(async () => ((await cli('receipt', requestId)).code === 3 ? true : undefined), 'again');
    const closed = await api('POST', `/v1/requests/${requestId}/close`, {
      system: 'mailchimp',
      reason: 'merge the members by hand',
    });
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ kind: 'rectification', recorded: { action: 'close' } });
    stubs.behaviour.mailchimp = 'ok';

    const receipt = await waitFor(async () => ledger.getRectification(requestId), 'receipt');
    expect(receipt.outcome).toBe('completed_with_failures');
    expect(receipt.systems.mailchimp.status).toBe('closed_by_operator');
    expect(await ledger.listOperatorActions(requestId)).toEqual([
      expect.objectContaining({ action: 'retry', system: 'mailchimp', requestKind: 'rectification' }),
      expect.objectContaining({ action: 'close', system: 'mailchimp', requestKind: 'rectification' }),
    ]);
    const log = await cli('receipt', requestId, '--log');
    expect(log.code).toBe(1);
    expect(log.stdout).toContain(`Rectification receipt ${requestId}  outcome: completed_with_failures`);
    expect(log.stdout).toMatch(/retry mailchimp by ops:ann/);
    expect(log.stdout).toMatch(/close mailchimp by api:\S+: merge the members by hand/);
    const logJson = JSON.parse((await cli('receipt', requestId, '--log', '--json')).stdout) as {
      log: { event: string }[];
    };
    expect(logJson.log.map((e) => e.event)).toEqual(['requested', 'retry', 'close', 'completed']);
    // Finished: another action is refused, naming the kind.
    const late = await api('POST', `/v1/requests/${requestId}/retry`, { system: 'mailchimp' });
    expect(late.statusCode).toBe(409);
    expect(late.json().detail).toContain(`rectification ${requestId} has finished`);
    const done = await api('GET', `/v1/requests/${requestId}`);
    expect(done.json()).toMatchObject({ kind: 'rectification', rectification: { state: 'completed' } });
  });

  it("completes a rectification's deadline: a finished one is never overdue; extend moves an open one's DueAt", async () => {
    const longAgo = new Date(Date.now() - 32 * 86_400_000).toISOString();
    const finished = await rectifyJson('--set', 'lastname=Lovelace', '--received-at', longAgo);
    await waitFor(async () => ledger.getRectification(finished.requestId), 'receipt');
    // The workflow itself marks the request completed, before any listing looks at it.
    const row = await waitFor(
      async () => (await ledger.getRequestDeadline(finished.requestId))?.completedAt,
      'completed in the ledger',
    );
    expect(Date.parse(row)).toBeGreaterThan(Date.parse(longAgo));

    stubs.behaviour.dynamics = 'bad-credentials';
    const open = await rectifyJson('--set', 'lastname=Byron', '--received-at', longAgo);
    await waitFor(
      async () => ((await cli('receipt', open.requestId)).code === 3 ? true : undefined),
      'stuck',
    );
    const overdue = JSON.parse((await cli('requests', '--overdue', '--json')).stdout) as {
      requestId: string;
      kind: string;
      state: string;
      overdue: boolean;
    }[];
    const ids = overdue.map((l) => l.requestId);
    expect(ids).toContain(open.requestId);
    expect(ids).not.toContain(finished.requestId);
    // Waiting for an operator, not merely running: the listing asks the workflow, which publishes no status.
    expect(overdue.find((l) => l.requestId === open.requestId)).toMatchObject({
      kind: 'rectification',
      state: 'needs_attention',
      overdue: true,
    });

    const extended = await cli('extend', open.requestId, '--months', '1', '--reason', 'complex', '--json');
    expect(extended.code).toBe(0);
    const { deadline } = JSON.parse(extended.stdout) as { deadline: { dueAt: string } };
    const dueAt = await waitFor(async () => {
      const description = await temporal.client.workflow
        .getHandle(`rectification-${open.requestId}`)
        .describe();
      const value = description.typedSearchAttributes.get(dueAtAttribute);
      return value && value.getTime() === Date.parse(deadline.dueAt) ? value : undefined;
    }, 'DueAt moved');
    expect(dueAt.toISOString()).toBe(new Date(deadline.dueAt).toISOString());

    const closed = await cli('close', open.requestId, '--system', 'dynamics', '--reason', 'no CRM access');
    expect(closed.code).toBe(0);
    stubs.behaviour.dynamics = 'ok';
    await waitFor(async () => (await ledger.getRequestDeadline(open.requestId))?.completedAt, 'completed');
    const after = JSON.parse((await cli('requests', '--overdue', '--json')).stdout) as {
      requestId: string;
    }[];
    expect(after.map((l) => l.requestId)).not.toContain(open.requestId);
  });

  it('rectify --wait prints the request id at once, shows each system, then exits 3 with the retry and close commands', async () => {
    stubs.behaviour.mailchimp = 'bad-credentials';
    const run = await cli('rectify', '--email', uniqueEmail('wait'), '--set', 'firstname=Ada', '--wait');
    expect(run.code).toBe(3);
    const firstLine = run.stdout.split('\n')[0] ?? '';
    expect(firstLine).toMatch(/^Rectification requested: /);
    const requestId = uuidPattern.exec(firstLine)?.[0] as string;
    expect(run.stdout).toMatch(/^ {2}dynamics\s+rectified$/m);
    expect(run.stdout).toMatch(/mailchimp\s+needs_attention\s+API Key Invalid \(HTTP 401\)/);
    expect(run.stdout).toContain(`consent-hub retry ${requestId} --system mailchimp`);
    expect(run.stdout).toContain(`consent-hub close ${requestId} --system mailchimp --reason <text>`);
    expect(run.stdout).not.toContain('<name>');
    stubs.behaviour.mailchimp = 'ok';
    const retried = await cli('retry', requestId, '--system', 'mailchimp');
    expect(retried.code).toBe(0);
    const receipt = await waitFor(async () => ledger.getRectification(requestId), 'receipt');
    expect(receipt.outcome).toBe('completed');
  });

  it('rectify --wait --json that stops for attention prints the status with the request’s receivedAt and dueAt', async () => {
    stubs.behaviour.mailchimp = 'bad-credentials';
    const receivedAt = new Date(Date.now() - 3 * 24 * 3600 * 1000).toISOString();
    const run = await cli(
      'rectify',
      '--email',
      uniqueEmail('wait-json'),
      '--set',
      'firstname=Ada',
      '--received-at',
      receivedAt,
      '--wait',
      '--json',
    );
    expect(run.code).toBe(3);
    const shown = JSON.parse(run.stdout) as {
      requestId: string;
      status: string;
      receivedAt?: string;
      dueAt?: string;
      systems: Record<string, { status: string }>;
    };
    expect(shown.status).toBe('needs_attention');
    expect(shown.systems.mailchimp?.status).toBe('needs_attention');
    expect(shown.receivedAt).toBe(receivedAt);
    expect(shown.dueAt).toBe(addCalendarMonths(new Date(receivedAt), 1).toISOString());
    expect(run.stderr).toContain(`Rectification requested: ${shown.requestId}`);
    stubs.behaviour.mailchimp = 'ok';
    expect((await cli('retry', shown.requestId, '--system', 'mailchimp')).code).toBe(0);
    await waitFor(async () => ledger.getRectification(shown.requestId), 'receipt');
  });

  it('rectify --wait --wait-through-attention keeps waiting until an operator closes, then exits 1 (--json)', async () => {
    stubs.behaviour.dynamics = 'bad-credentials';
    const waiting = cli(
      'rectify',
      '--email',
      uniqueEmail('through'),
      '--set',
      'lastname=Ada',
      '--wait',
      '--wait-through-attention',
      '--json',
    );
    // Watched and acted on through hub-client, not a second CLI run: the CLI under test owns stdout.
    const requestId = await waitFor(async () => {
      for (const row of await ledger.listRequestDeadlines({ kind: 'rectification', open: true })) {
        const status = await temporal.client.workflow
          .getHandle(`rectification-${row.requestId}`)
          .query(rectificationStatusQuery)
          .catch(() => undefined);
        if (status?.status === 'needs_attention') return row.requestId;
      }
      return undefined;
    }, 'needs attention');
    await actOnRequest(temporal.context(), ledger, requestId, {
      action: 'close',
      system: 'dynamics',
      reason: 'no CRM access',
      operator: 'ops:bob',
    });
    stubs.behaviour.dynamics = 'ok';
    const run = await waiting;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Rectification requested: ${requestId}`);
    const receipt = JSON.parse(run.stdout) as { outcome: string; systems: { dynamics: { status: string } } };
    expect(receipt.outcome).toBe('completed_with_failures');
    expect(receipt.systems.dynamics.status).toBe('closed_by_operator');
  });

  it("refuses up front, naming no address: the same address (case aside), an erased person's, another person's", async () => {
    const calls = () => stubs.rectifyCalls.dynamics + stubs.rectifyCalls.mailchimp;
    const before = calls();
    const deadlines = (await ledger.listRequestDeadlines({ kind: 'rectification' })).length;
    const email = uniqueEmail('same');
    const [local, domain] = email.split('@') as [string, string];
    const same = await cli('rectify', '--email', email, '--set', `email=${local}@${domain.toUpperCase()}`);
    expect(same.code).toBe(2);
    expect(same.stderr).toContain('nothing to change');
    expect(same.stderr.toLowerCase()).not.toContain(domain);

    // An erased person's address: Mailchimp keeps it forgotten, so Dynamics must not be moved to it first.
    const erased = uniqueEmail('erased');
    const erasure = await cli('erase', '--email', erased, '--wait');
    // Fixture addresses only: the run's output is what says which system failed and why.
    expect(erasure.code, `${erasure.stdout}\n${erasure.stderr}`).toBe(0);
    const toErased = await cli('rectify', '--email', uniqueEmail('mover'), '--set', `email=${erased}`);
    expect(toErased.code).toBe(2);
    expect(toErased.stderr).toMatch(/refused: the new email is an erased person's/);
    expect(toErased.stderr).not.toContain(erased);

    // Another person's (consent events under the new address's key), through the API: 409.
    const other = uniqueEmail('other');
    await ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey: subjectKeyFor(other, temporal.secrets.subjectKeySecret),
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: new Date().toISOString(),
      recordedAt: new Date().toISOString(),
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01', formId: 'signup', channel: 'web', requestRef: 'r-9' },
    });
    const answer = await api('POST', '/v1/rectifications', {
      email: uniqueEmail('mover'),
      set: { email: other, firstname: 'Ada' },
    });
    expect(answer.statusCode).toBe(409);
    expect(answer.json().detail).toMatch(/already belongs to another person/);
    expect(answer.body).not.toContain(other);

    // Nothing was started or written anywhere.
    expect(calls()).toBe(before);
    expect((await ledger.listRequestDeadlines({ kind: 'rectification' })).length).toBe(deadlines);
  });

  it("refuses --requested-by mailchimp:upemail with exit 2, the webhook's own requester, and starts nothing", async () => {
    const before = stubs.rectifyCalls.dynamics + stubs.rectifyCalls.mailchimp;
    const deadlines = (await ledger.listRequestDeadlines({ kind: 'rectification' })).length;
    const run = await cli(
      'rectify',
      '--email',
      uniqueEmail('posing'),
      '--set',
      `email=${uniqueEmail('posed')}`,
      '--requested-by',
      'mailchimp:upemail',
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--requested-by is reserved for Mailchimp');
    expect(stubs.rectifyCalls.dynamics + stubs.rectifyCalls.mailchimp).toBe(before);
    expect((await ledger.listRequestDeadlines({ kind: 'rectification' })).length).toBe(deadlines);
  });

  it('answers an unknown id as before: not found, naming the id', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const run = await cli('retry', id, '--system', 'mailchimp');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(id);
    expect((await api('GET', `/v1/requests/${id}`)).statusCode).toBe(404);
  });
});
