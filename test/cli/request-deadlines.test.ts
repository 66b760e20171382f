import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deadlineExtendedSchema, requestListingSchema } from '../../api/api-response-schemas.js';
import { addCalendarMonths } from '../../domain/request-deadline.js';
import type { Ledger } from '../../ledger/ledger.js';
import { dueAtAttribute, requestKindAttribute } from '../../workflows/search-attribute-keys.js';
import { freshApiKey } from '../api/api-test-kit.js';
import { startCliHub } from '../support/cli-hub.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { waitFor as eventually } from '../support/waiting.js';
import { cli, stubConnectors } from './cli-test-kit.js';

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;
const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 3600 * 1000).toISOString();

interface Listing {
  kind: string;
  requestId: string;
  subjectKey: string;
  receivedAt: string;
  dueAt: string;
  extendedMonths: number;
  state: string;
  overdue: boolean;
  completedAt?: string;
}

describe('every request has a deadline: received, due one calendar month later, listed when overdue', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let temporal: typeof hub.temporal;
  let ledger: Ledger;
  const stubs = stubConnectors();

  beforeAll(async () => {
    hub = await startCliHub('cli-deadlines', stubs.connectors, { apiKey: freshApiKey() });
    ({ temporal, ledger } = hub);
  });
  afterAll(() => hub?.close());

  const apiGet = (url: string) => hub.api('GET', url);
  const apiPost = (url: string, body: unknown) => hub.api('POST', url, body);
  const cliRequests = async (...flags: string[]) => {
    const run = await cli('requests', ...flags, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as Listing[];
  };

  const waitFor = <T>(probe: () => Promise<T | undefined>, what: string) =>
    eventually(what, probe, { tries: 120 });

  it('an erasure received by letter 32 days ago is overdue in `requests --overdue` and GET /v1/requests?overdue=true', async () => {
    // Mailchimp refuses the key, so the erasure waits for an operator: open, and past its month.
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const receivedAt = daysAgo(32);
    const started = await cli(
      'erase',
      '--email',
      uniqueEmail('letter'),
      '--received-at',
      receivedAt,
      '--json',
    );
    expect(started.code).toBe(0);
    const accepted = JSON.parse(started.stdout) as { requestId: string; receivedAt: string; dueAt: string };
    expect(accepted.receivedAt).toBe(receivedAt);
    expect(accepted.dueAt).toBe(addCalendarMonths(new Date(receivedAt), 1).toISOString());

    // The workflow carries the deadline for Temporal's own queries.
    const description = await temporal.client.workflow
      .getHandle(`erasure-${JSON.parse(started.stdout).subjectKey}`, accepted.requestId)
      .describe();
    expect(description.typedSearchAttributes.get(requestKindAttribute)).toBe('erasure');
    expect(description.typedSearchAttributes.get(dueAtAttribute)?.toISOString()).toBe(accepted.dueAt);

    const overdue = await cliRequests('--overdue');
    const row = overdue.find((listing) => listing.requestId === accepted.requestId);
    expect(row).toMatchObject({ kind: 'erasure', receivedAt, dueAt: accepted.dueAt, overdue: true });
    expect(['running', 'needs_attention']).toContain(row?.state);

    const answered = await apiGet('/v1/requests?overdue=true');
    expect(answered.statusCode).toBe(200);
    const rows = requestListingSchema.array().parse(answered.json());
    expect(rows.find((listing) => listing.requestId === accepted.requestId)).toMatchObject({
      kind: 'erasure',
      overdue: true,
      dueAt: accepted.dueAt,
    });

    const text = await cli('requests', '--overdue');
    expect(text.stdout).toMatch(new RegExp(`OVERDUE erasure\\s+${accepted.requestId}`));

    // `receipt` and GET /v1/requests/{id} show the deadline next to the status.
    const receipt = JSON.parse((await cli('receipt', accepted.requestId, '--json')).stdout) as {
      deadline?: Listing;
    };
    expect(receipt.deadline).toMatchObject({ receivedAt, dueAt: accepted.dueAt, overdue: true });
    expect((await cli('receipt', accepted.requestId)).stdout).toContain(
      `Received ${receivedAt}, due ${accepted.dueAt}  OVERDUE`,
    );
    const status = (await apiGet(`/v1/requests/${accepted.requestId}`)).json() as { deadline?: Listing };
    expect(status.deadline).toMatchObject({ receivedAt, dueAt: accepted.dueAt, overdue: true });

    await cli('close', accepted.requestId, '--system', 'mailchimp', '--reason', 'key revoked').catch(
      () => {},
    );
  });

  it('a second request that joins a running erasure answers its own receivedAt and dueAt, and the erasure’s deadline beside them', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const email = uniqueEmail('joined-late');
    const firstReceived = daysAgo(10);
    const first = JSON.parse(
      (await cli('erase', '--email', email, '--received-at', firstReceived, '--json')).stdout,
    ) as { requestId: string; receivedAt: string; dueAt: string; joined: boolean };
    expect(first).toMatchObject({ receivedAt: firstReceived, joined: false });
    expect(first).not.toHaveProperty('erasureDeadline');

    const before = Date.now();
    const second = await cli('erase', '--email', email, '--json');
    expect(second.code).toBe(0);
    const joined = JSON.parse(second.stdout) as {
      requestId: string;
      receivedAt: string;
      dueAt: string;
      joined: boolean;
      erasureDeadline?: { receivedAt: string; dueAt: string };
    };
    expect(joined.requestId).toBe(first.requestId);
    expect(joined.joined).toBe(true);
    // Its own reception (now), not the first request's ten days ago; the erasure's deadline is the earlier.
    expect(Date.parse(joined.receivedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(joined.dueAt).toBe(addCalendarMonths(new Date(joined.receivedAt), 1).toISOString());
    expect(joined.erasureDeadline).toEqual({ receivedAt: firstReceived, dueAt: first.dueAt });
    const text = await cli('erase', '--email', email);
    expect(text.stdout).toMatch(/this request: received \S+, due \S+/);
    expect(text.stdout).toContain(
      `joined the erasure already running for this person: received ${firstReceived}, due ${first.dueAt}`,
    );

    // The API answers the same for a request received by letter two days ago.
    const letter = daysAgo(2);
    const answered = await apiPost('/v1/erasures', {
      email,
      requestedBy: 'privacy-inbox#5',
      receivedAt: letter,
    });
    expect(answered.statusCode).toBe(202);
    expect(answered.json()).toMatchObject({
      requestId: first.requestId,
      joined: true,
      receivedAt: letter,
      dueAt: addCalendarMonths(new Date(letter), 1).toISOString(),
      erasureDeadline: { receivedAt: firstReceived, dueAt: first.dueAt },
    });

    await waitFor(async () => {
      const close = await cli('close', first.requestId, '--system', 'mailchimp', '--reason', 'key revoked');
      return close.code === 0 ? true : undefined;
    }, 'the erasure closed');
  });

  it('a completed request is never overdue, however late it was', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'ok' });
    const receivedAt = daysAgo(40);
    const started = await cli('erase', '--email', uniqueEmail('done'), '--received-at', receivedAt, '--json');
    expect(started.code, started.stderr).toBe(0);
    const requestId = (JSON.parse(started.stdout) as { requestId: string }).requestId;
    // The erasure's own ledger activity marks it answered when it writes the receipt.
    const completedAt = await waitFor(
      async () => (await ledger.getRequestDeadline(requestId))?.completedAt,
      'the erasure answered in the ledger',
    );
    expect((await ledger.getReceipt(requestId))?.completedAt).toBe(completedAt);
    const all = await cliRequests();
    expect(all.find((listing) => listing.requestId === requestId)).toMatchObject({
      state: 'completed',
      overdue: false,
      completedAt,
    });
    expect((await cliRequests('--overdue')).map((listing) => listing.requestId)).not.toContain(requestId);
    const refused = await cli('extend', requestId, '--months', '1', '--reason', 'too late anyway');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/has completed; its deadline cannot be extended/);
  });

  it('a consent change whose workflow has ended is completed in the ledger and refused an extension (CLI exit 2, API 409) although nothing read its state, and its log gets no reason', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'ok' });
    const email = uniqueEmail('ended');
    const recorded = await cli('opt-out', '--email', email, '--purpose', 'phone', '--json');
    expect(recorded.code, recorded.stderr).toBe(0);
    const [change] = JSON.parse(recorded.stdout) as { eventId: string; subjectKey: string }[];
    const eventId = change?.eventId ?? '';
    // The person's consent workflow carries the change everywhere and ends once idle (5 s in tests); as it
    // ends it marks the change completed in the ledger, though nothing read the change's state.
    const before = Date.now();
    const run = temporal.client.workflow.getHandle(`consent-${change?.subjectKey}`);
    await run.result();
    const completedAt = (await ledger.getRequestDeadline(eventId))?.completedAt;
    expect(completedAt).toEqual(expect.any(String));
    expect(Date.parse(completedAt ?? '')).toBeGreaterThanOrEqual(before - 60_000);
    // Issue 21: the completion is a local activity in the run's last workflow task (its marker, beside the
    // ledger read's and the change's recording in the task that received it), not an activity task of its own.
    const events = (await run.fetchHistory()).events ?? [];
    const activityTasks = events.flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    expect(activityTasks).not.toContain('completeConsentRequests');
    const localActivities = events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    expect(localActivities).toHaveLength(3);

    const refused = await cli('extend', eventId, '--months', '1', '--reason', 'Ada asked for paper');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/consent .* has completed; its deadline cannot be extended/);
    const api = await apiPost(`/v1/requests/${eventId}/extension`, { months: 1, reason: 'Ada again' });
    expect(api.statusCode).toBe(409);
    expect(api.json()).toMatchObject({ detail: expect.stringMatching(/has completed/) });
    // Refused means nothing written: the deadline is where it was, the log holds no reason.
    expect(await ledger.getRequestDeadline(eventId)).toMatchObject({
      extendedMonths: 0,
      completedAt: expect.any(String),
    });
    expect(await ledger.listOperatorActions(eventId)).toEqual([]);
  });

  it.each(['erasure', 'access', 'rectification', 'consent'] as const)(
    'a %s request whose workflow Temporal no longer has is refused an extension, and the ledger marks it completed',
    async (kind) => {
      const requestId = randomUUID();
      const subjectKey = randomSubjectKey();
      await ledger.registerRequest({
        requestId,
        kind,
        subjectKey,
        receivedAt: daysAgo(3),
        registeredAt: daysAgo(3),
      });
      const refused = await cli('extend', requestId, '--months', '1', '--reason', 'archives');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        `The ${kind} ${requestId} has completed; its deadline cannot be extended.`,
      );
      expect((await ledger.getRequestDeadline(requestId))?.completedAt).toEqual(expect.any(String));
      expect(await ledger.listOperatorActions(requestId)).toEqual([]);
    },
  );

  it('a consent change entered late is a request too, overdue while a system needs attention', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const receivedAt = daysAgo(32);
    const email = uniqueEmail('optout');
    const recorded = await cli(
      'opt-out',
      '--email',
      email,
      '--purpose',
      'phone',
      '--received-at',
      receivedAt,
      '--json',
    );
    expect(recorded.code).toBe(0);
    const [change] = JSON.parse(recorded.stdout) as { eventId: string; dueAt: string }[];
    const row = await waitFor(async () => {
      const found = (await cliRequests('--overdue')).find((listing) => listing.requestId === change?.eventId);
      return found?.state === 'needs_attention' ? found : undefined;
    }, 'the consent change needing attention');
    expect(row).toMatchObject({ kind: 'consent', receivedAt, overdue: true });
    // The person's status lists their requests with the deadline.
    const status = JSON.parse((await cli('status', '--email', email, '--json')).stdout) as {
      requests: Listing[];
    };
    expect(status.requests).toEqual([expect.objectContaining({ requestId: change?.eventId, overdue: true })]);
    expect((await cli('status', '--email', email)).stdout).toMatch(
      new RegExp(`Requests:\\n\\s+consent\\s+${change?.eventId}.*OVERDUE`),
    );
    stubs.behaviour.mailchimp = 'ok';
    await cli('retry', change?.eventId ?? '', '--system', 'mailchimp');
    // Carried everywhere: the person's consent workflow is idle, and the change leaves the overdue list.
    await waitFor(async () => {
      const all = await cliRequests();
      return all.find((listing) => listing.requestId === change?.eventId)?.state === 'completed'
        ? true
        : undefined;
    }, 'the consent change completed');
    expect((await cliRequests('--overdue')).map((listing) => listing.requestId)).not.toContain(
      change?.eventId,
    );
  });

  it('a consent change entered late leaves the overdue list once it reached every tool, while the person’s consent workflow is still open with another change', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'ok', google: 'bad-credentials' });
    const email = uniqueEmail('late-change');
    const optOut = async (purpose: string) => {
      const run = await cli(
        'opt-out',
        '--email',
        email,
        '--purpose',
        purpose,
        '--received-at',
        daysAgo(32),
        '--json',
      );
      expect(run.code).toBe(0);
      return (JSON.parse(run.stdout) as { eventId: string; subjectKey: string }[])[0] as {
        eventId: string;
        subjectKey: string;
      };
    };
    // The statistics withdrawal waits for an operator at Google: the person's workflow is not idle.
    const stuck = await optOut('statistics');
    await waitFor(async () => {
      const found = (await cliRequests('--overdue')).find((listing) => listing.requestId === stuck.eventId);
      return found?.state === 'needs_attention' ? found : undefined;
    }, 'the statistics withdrawal needing attention');
    // The phone withdrawal concerns Dynamics and Mailchimp only, and both take it.
    const late = await optOut('phone');
    const done = await waitFor(async () => {
      const found = (await cliRequests()).find((listing) => listing.requestId === late.eventId);
      return found?.state === 'completed' ? found : undefined;
    }, 'the phone withdrawal completed');
    expect(done).toMatchObject({ kind: 'consent', overdue: false });
    const overdue = (await cliRequests('--overdue')).map((listing) => listing.requestId);
    expect(overdue).not.toContain(late.eventId);
    expect(overdue).toContain(stuck.eventId);
    const api = (await apiGet('/v1/requests?overdue=true')).json() as Listing[];
    expect(api.map((listing) => listing.requestId)).not.toContain(late.eventId);
    // Still open: the person's consent workflow runs on, waiting for the operator at Google.
    const description = await temporal.client.workflow.getHandle(`consent-${late.subjectKey}`).describe();
    expect(description.status.name).toBe('RUNNING');
    await cli('close', stuck.eventId, '--system', 'google', '--reason', 'test over');
    stubs.behaviour.google = 'ok';
  });

  it('extends by 1 or 2 months with a reason, at most two in all, moves DueAt and logs who and why', async () => {
    Object.assign(stubs.behaviour, { dynamics: 'ok', mailchimp: 'bad-credentials', google: 'ok' });
    const receivedAt = daysAgo(32);
    const started = await cli(
      'erase',
      '--email',
      uniqueEmail('extend'),
      '--received-at',
      receivedAt,
      '--json',
    );
    const { requestId, subjectKey } = JSON.parse(started.stdout) as { requestId: string; subjectKey: string };

    const noReason = await cli('extend', requestId, '--months', '1');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason/);
    const threeMonths = await cli('extend', requestId, '--months', '3', '--reason', 'backlog');
    expect(threeMonths.code).toBe(2);

    const once = await cli(
      'extend',
      requestId,
      '--months',
      '1',
      '--reason',
      'complex request: records in three archives',
      '--operator',
      'cli:dpo',
      '--json',
    );
    expect(once.code).toBe(0);
    const extended = deadlineExtendedSchema.parse(JSON.parse(once.stdout));
    const twoMonths = addCalendarMonths(new Date(receivedAt), 2).toISOString();
    expect(extended.deadline).toMatchObject({ dueAt: twoMonths, extendedMonths: 1 });
    expect(extended.recorded).toMatchObject({ action: 'extend', months: 1, operator: 'cli:dpo' });
    // No longer overdue, but due within the next month.
    expect((await cliRequests('--overdue')).map((l) => l.requestId)).not.toContain(requestId);
    expect((await cliRequests('--due-within', '7d')).map((l) => l.requestId)).not.toContain(requestId);
    expect((await cliRequests('--due-within', '5w')).find((l) => l.requestId === requestId)).toMatchObject({
      dueAt: twoMonths,
      extendedMonths: 1,
      overdue: false,
    });
    // Temporal's DueAt follows (the workflow publishes it when told).
    await waitFor(async () => {
      const attributes = (
        await temporal.client.workflow.getHandle(`erasure-${subjectKey}`, requestId).describe()
      ).typedSearchAttributes;
      return attributes.get(dueAtAttribute)?.toISOString() === twoMonths ? true : undefined;
    }, 'DueAt moved');

    // Two more months would make three: refused, over the CLI and the API alike; nothing changes.
    const tooMuch = await cli('extend', requestId, '--months', '2', '--reason', 'still more');
    expect(tooMuch.code).toBe(2);
    expect(tooMuch.stderr).toMatch(/already extended by 1 month\(s\).*at most 1 more/);
    const apiTooMuch = await apiPost(`/v1/requests/${requestId}/extension`, { months: 2, reason: 'more' });
    expect(apiTooMuch.statusCode).toBe(409);
    const apiNoReason = await apiPost(`/v1/requests/${requestId}/extension`, { months: 1 });
    expect(apiNoReason.statusCode).toBe(400);
    expect(apiNoReason.json()).toMatchObject({ errors: [{ field: 'reason' }] });

    const apiOnce = await apiPost(`/v1/requests/${requestId}/extension`, {
      months: 1,
      reason: 'archive search',
    });
    expect(apiOnce.statusCode).toBe(200);
    const threeLater = addCalendarMonths(new Date(receivedAt), 3).toISOString();
    expect(deadlineExtendedSchema.parse(apiOnce.json()).deadline).toMatchObject({
      dueAt: threeLater,
      extendedMonths: 2,
    });
    expect(
      (await apiPost(`/v1/requests/${requestId}/extension`, { months: 1, reason: 'x' })).statusCode,
    ).toBe(409);

    const log = await cli('receipt', requestId, '--log', '--json');
    const entries = (JSON.parse(log.stdout) as { log: { event: string; by?: string; reason?: string }[] })
      .log;
    expect(entries.filter((entry) => entry.event === 'extend')).toEqual([
      expect.objectContaining({
        by: 'cli:dpo',
        reason: expect.stringMatching(/^\+1 month .*three archives$/),
      }),
      expect.objectContaining({
        by: expect.stringMatching(/^api:/),
        reason: expect.stringMatching(/archive search$/),
      }),
    ]);
    const logText = (await cli('receipt', requestId, '--log')).stdout;
    expect(logText).toMatch(/extend \(by cli:dpo, reason \+1 month \(due [^)]+\): complex request/);
    expect(logText).not.toContain('undefined');
    expect(logText).toContain(`due ${threeLater}, extended by 2 month(s)`);
    await cli('close', requestId, '--system', 'mailchimp', '--reason', 'key revoked');
  });

  it('refuses a receivedAt in the future or before the floor, over the CLI and the API, and starts nothing', async () => {
    const before = (await ledger.listRequestDeadlines()).length;
    const future = await cli(
      'erase',
      '--email',
      uniqueEmail('future'),
      '--received-at',
      new Date(Date.now() + 86_400_000).toISOString(),
    );
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/^--received-at: must not be in the future/);
    const ancient = await cli('opt-out', '--email', uniqueEmail('ancient'), '--received-at', daysAgo(91));
    expect(ancient.code).toBe(2);
    expect(ancient.stderr).toMatch(
      /^--received-at: must not be more than 90 days ago .*CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS/,
    );
    vi.stubEnv('CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS', '120');
    const allowed = await cli(
      'erase',
      '--email',
      uniqueEmail('floor'),
      '--received-at',
      daysAgo(91),
      '--json',
    );
    vi.stubEnv('CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS', '90');
    expect(allowed.code).toBe(0);

    const apiFuture = await apiPost('/v1/erasures', {
      email: uniqueEmail('api-future'),
      receivedAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(apiFuture.statusCode).toBe(400);
    expect(apiFuture.json()).toMatchObject({ errors: [{ field: 'receivedAt' }] });
    const apiLate = await apiPost('/v1/consent-events', {
      email: uniqueEmail('api-late'),
      purpose: 'phone',
      decision: 'withdrawn',
      occurredAt: daysAgo(33),
      source: 'letter',
      receivedAt: daysAgo(32),
    });
    expect(apiLate.statusCode).toBe(202);
    expect(apiLate.json()).toMatchObject({ receivedAt: expect.any(String), dueAt: expect.any(String) });
    // The refused ones registered nothing; the floor-allowed erasure and the API's consent change did.
    expect((await ledger.listRequestDeadlines()).length).toBe(before + 2);
    expect((await apiGet('/v1/requests?dueWithin=soon')).statusCode).toBe(400);
  });
});
