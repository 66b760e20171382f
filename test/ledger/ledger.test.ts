import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErasureReceipt, SystemErasureState } from '../../domain/erasure.js';
import type { ConsentEvent, Ledger } from '../../ledger/ledger.js';
import { latestMigration, ledgerMigrations } from '../../ledger/migrations.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { randomSubjectKey } from '../support/random-subject-key.js';
import { type LedgerStore, ledgerBackends } from './backends.js';

const silent = pino({ level: 'silent' });

function consentEvent(overrides: Partial<ConsentEvent> & { subjectKey: string }): ConsentEvent {
  return {
    id: randomUUID(),
    purpose: 'marketing_email',
    decision: 'granted',
    occurredAt: '2024-03-01T10:00:00.000Z',
    recordedAt: '2024-03-01T10:00:05.000Z',
    source: 'form:contact-form',
    evidence: {
      policyVersion: 'privacy-2024-01',
      formId: 'contact-form',
      channel: 'web',
      requestRef: 'req-1',
    },
    ...overrides,
  };
}

function receipt(overrides: Partial<ErasureReceipt> & { subjectKey: string }): ErasureReceipt {
  const done: SystemErasureState = {
    status: 'erased',
    records: [],
    attempts: 1,
    completedAt: '2024-05-01T12:00:00.000Z',
  };
  return {
    requestId: `erasure-${randomUUID()}`,
    reason: 'data subject erasure request',
    requestedBy: 'privacy-inbox#1234',
    requestedAt: '2024-05-01T11:59:00.000Z',
    completedAt: '2024-05-01T12:00:00.000Z',
    outcome: 'completed',
    systems: {
      dynamics: { ...done, records: [{ kind: 'contact', id: 'c-1', result: 'deleted' }] },
      mailchimp: { ...done, status: 'not_found' },
      google: { ...done, status: 'submitted' },
    },
    ...overrides,
  };
}

const allMigrations = Object.keys(await ledgerMigrations.getMigrations()).sort();

describe.each(ledgerBackends)('the ledger on $name', (backend) => {
  let store: LedgerStore;
  let ledger: Ledger;
  const opened: Ledger[] = [];
  const stores: LedgerStore[] = [];

  async function open(on: LedgerStore, logger: Logger = silent): Promise<Ledger> {
    const next = await openLedger(on.options, logger);
    opened.push(next);
    return next;
  }

  beforeEach(async () => {
    store = await backend.createStore();
    stores.push(store);
    ledger = await open(store);
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
  });

  afterAll(async () => {
    await Promise.all(stores.splice(0).map((each) => each.cleanup()));
  });

  it('appends consent events and reads them back oldest first, with their evidence', async () => {
    const subject = randomSubjectKey();
    const later = consentEvent({
      subjectKey: subject,
      decision: 'withdrawn',
      occurredAt: '2024-03-02T09:00:00Z',
    });
    // 11:00+02:00 is 09:00Z, before 10:00Z: order follows the instant, not the text as written.
    const earliest = consentEvent({ subjectKey: subject, occurredAt: '2024-03-01T11:00:00+02:00' });
    const tieFirst = consentEvent({
      subjectKey: subject,
      purpose: 'phone',
      recordedAt: '2024-03-01T10:00:01Z',
    });
    const tieSecond = consentEvent({
      subjectKey: subject,
      purpose: 'statistics',
      recordedAt: '2024-03-01T10:00:09Z',
    });
    const someoneElse = consentEvent({ subjectKey: randomSubjectKey() });

    for (const event of [later, tieSecond, earliest, tieFirst, someoneElse]) {
      expect(await ledger.appendConsentEvent(event)).toEqual({ inserted: true });
    }

    const events = await ledger.listConsentEvents(subject);
    expect(events.map((event) => event.id)).toEqual([earliest.id, tieFirst.id, tieSecond.id, later.id]);
    expect(events[0]).toEqual({ ...earliest, occurredAt: '2024-03-01T09:00:00.000Z' });
    expect(events[3]?.evidence).toEqual(later.evidence);
    expect(events[3]?.decision).toBe('withdrawn');
    expect(await ledger.listConsentEvents(randomSubjectKey())).toEqual([]);
  });

  it('writes a consent event once however often a retry appends it', async () => {
    const event = consentEvent({ subjectKey: randomSubjectKey() });
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.appendConsentEvent(event)));
    expect(results.filter((result) => result.inserted)).toHaveLength(1);
    expect(await ledger.listConsentEvents(event.subjectKey)).toHaveLength(1);
  });

  it('refuses a consent event that breaks the schema', async () => {
    await expect(
      ledger.appendConsentEvent(consentEvent({ subjectKey: 'not-a-subject-key' })),
    ).rejects.toThrow();
  });

  it('records a receipt exactly once under 20 concurrent retries, from two workers', async () => {
    const second = await open(store);
    const written = receipt({ subjectKey: randomSubjectKey() });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => (index % 2 ? second : ledger).recordReceipt(written)),
    );
    expect(results.filter((result) => result.inserted)).toHaveLength(1);
    expect(results.filter((result) => !result.inserted)).toHaveLength(19);

    const rows = await store
      .inspect()
      .selectFrom('erasure_receipts')
      .select('request_id')
      .where('request_id', '=', written.requestId)
      .execute();
    expect(rows).toHaveLength(1);
    expect(await ledger.getReceipt(written.requestId)).toEqual(written);
  });

  it('keeps the first receipt when a later write for the same request differs', async () => {
    const first = receipt({ subjectKey: randomSubjectKey() });
    await ledger.recordReceipt(first);
    expect(await ledger.recordReceipt({ ...first, outcome: 'completed_with_failures' })).toEqual({
      inserted: false,
    });
    expect(await ledger.getReceipt(first.requestId)).toEqual(first);
    expect(await ledger.getReceipt('erasure-unknown')).toBeUndefined();
  });

  it('lists receipts since a time (offsets compared as instants) and for one subject, oldest first', async () => {
    const subject = randomSubjectKey();
    const other = randomSubjectKey();
    const january = receipt({ subjectKey: subject, completedAt: '2024-01-15T08:00:00Z' });
    // 01:00+02:00 on 1 March is 23:00Z on 29 February: before a `since` of 1 March 00:00Z.
    const lateFebruary = receipt({ subjectKey: other, completedAt: '2024-03-01T01:00:00+02:00' });
    const march = receipt({ subjectKey: subject, completedAt: '2024-03-01T00:00:00.000Z' });
    const april = receipt({ subjectKey: other, completedAt: '2024-04-01T00:00:00Z' });
    for (const each of [april, january, march, lateFebruary]) await ledger.recordReceipt(each);

    const ids = (list: ErasureReceipt[]) => list.map((each) => each.requestId);
    expect(ids(await ledger.listReceipts())).toEqual(ids([january, lateFebruary, march, april]));
    expect(ids(await ledger.listReceipts({ since: '2024-03-01T00:00:00Z' }))).toEqual(ids([march, april]));
    expect(ids(await ledger.listReceipts({ since: '2024-03-01' }))).toEqual(ids([march, april]));
    expect(ids(await ledger.listReceipts({ subjectKey: subject }))).toEqual(ids([january, march]));
    expect(ids(await ledger.listReceipts({ subjectKey: other, since: '2024-02-01T00:00:00Z' }))).toEqual(
      ids([lateFebruary, april]),
    );
    // Exactly as written, including the original offset.
    expect((await ledger.listReceipts({ subjectKey: other }))[0]).toEqual(lateFebruary);
    await expect(ledger.listReceipts({ since: 'yesterday-ish' })).rejects.toThrow('since is not a date-time');
  });

  it('looks up tombstones; a later erasure keeps the first time and request, adds systems, moves the last', async () => {
    const subject = randomSubjectKey();
    expect(await ledger.getTombstone(subject)).toBeUndefined();

    await ledger.recordTombstone({
      subjectKey: subject,
      erasedAt: '2024-05-01T14:00:00+02:00',
      systems: ['mailchimp', 'dynamics'],
      firstRequestId: 'erasure-1',
      lastRequestId: 'erasure-1',
    });
    expect(await ledger.getTombstone(subject)).toEqual({
      subjectKey: subject,
      erasedAt: '2024-05-01T12:00:00.000Z',
      systems: ['dynamics', 'mailchimp'],
      firstRequestId: 'erasure-1',
      lastRequestId: 'erasure-1',
    });

    await ledger.recordTombstone({
      subjectKey: subject,
      erasedAt: '2024-09-01T00:00:00Z',
      systems: ['google', 'mailchimp'],
      firstRequestId: 'erasure-2',
      lastRequestId: 'erasure-2',
    });
    expect(await ledger.getTombstone(subject)).toEqual({
      subjectKey: subject,
      erasedAt: '2024-05-01T12:00:00.000Z',
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: 'erasure-1',
      lastRequestId: 'erasure-2',
    });
    expect(await ledger.getTombstone(randomSubjectKey())).toBeUndefined();
  });

  it('unions the systems of concurrent tombstone writes for one subject', async () => {
    const subject = randomSubjectKey();
    const second = await open(store);
    await Promise.all(
      (['dynamics', 'mailchimp', 'google'] as const).map((system, index) =>
        (index % 2 ? second : ledger).recordTombstone({
          subjectKey: subject,
          erasedAt: '2024-05-01T12:00:00Z',
          systems: [system],
          firstRequestId: 'erasure-1',
          lastRequestId: 'erasure-1',
        }),
      ),
    );
    expect((await ledger.getTombstone(subject))?.systems).toEqual(['dynamics', 'mailchimp', 'google']);
  });

  it("deletes an erased subject's consent events and nobody else's; the tombstone and receipt stay", async () => {
    const erased = randomSubjectKey();
    const kept = randomSubjectKey();
    for (const subject of [erased, erased, erased, kept, kept]) {
      await ledger.appendConsentEvent(consentEvent({ subjectKey: subject }));
    }
    const proof = receipt({ subjectKey: erased });
    await ledger.recordReceipt(proof);
    await ledger.recordTombstone({
      subjectKey: erased,
      erasedAt: proof.completedAt,
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: proof.requestId,
      lastRequestId: proof.requestId,
    });

    expect(await ledger.deleteConsentEvents(erased)).toBe(3);
    expect(await ledger.listConsentEvents(erased)).toEqual([]);
    expect(await ledger.listConsentEvents(kept)).toHaveLength(2);
    expect(await ledger.getReceipt(proof.requestId)).toEqual(proof);
    expect(await ledger.listReceipts({ subjectKey: erased })).toEqual([proof]);
    expect((await ledger.getTombstone(erased))?.firstRequestId).toBe(proof.requestId);
    // A retried deletion finds nothing more to delete.
    expect(await ledger.deleteConsentEvents(erased)).toBe(0);
  });

  it('records what each system answered per consent event, replaces a re-recorded answer, and forgets them at erasure', async () => {
    const subject = randomSubjectKey();
    const other = randomSubjectKey();
    const event = consentEvent({ subjectKey: subject });
    await ledger.appendConsentEvent(event);
    await ledger.recordConsentOutcome({
      eventId: event.id,
      subjectKey: subject,
      system: 'mailchimp',
      outcome: 'failed',
      reason: 'Mailchimp answered 401 API Key Invalid',
      recordedAt: '2024-05-01T10:00:00+02:00',
    });
    await ledger.recordConsentOutcome({
      eventId: event.id,
      subjectKey: subject,
      system: 'mailchimp',
      outcome: 'applied',
      recordedAt: '2024-05-01T09:00:00Z',
    });
    await ledger.recordConsentOutcome({
      eventId: event.id,
      subjectKey: subject,
      system: 'dynamics',
      outcome: 'already',
      recordedAt: '2024-05-01T08:30:00Z',
    });
    await ledger.recordConsentOutcome({
      eventId: event.id,
      subjectKey: other,
      system: 'google',
      outcome: 'applied',
      recordedAt: '2024-05-01T08:00:00Z',
    });

    expect(await ledger.listConsentOutcomes(subject)).toEqual([
      {
        eventId: event.id,
        subjectKey: subject,
        system: 'dynamics',
        outcome: 'already',
        recordedAt: '2024-05-01T08:30:00.000Z',
      },
      {
        eventId: event.id,
        subjectKey: subject,
        system: 'mailchimp',
        outcome: 'applied',
        recordedAt: '2024-05-01T09:00:00.000Z',
      },
    ]);
    await ledger.deleteConsentEvents(subject);
    expect(await ledger.listConsentOutcomes(subject)).toEqual([]);
    expect(await ledger.listConsentOutcomes(other)).toHaveLength(1);
  });

  it('keeps one watermark per system', async () => {
    expect(await ledger.getWatermark('mailchimp')).toBeUndefined();
    await ledger.setWatermark('mailchimp', '2024-05-01T00:00:00.000Z');
    await ledger.setWatermark('dynamics', 'cursor:abc');
    await ledger.setWatermark('mailchimp', '2024-06-01T00:00:00.000Z');
    expect(await ledger.getWatermark('mailchimp')).toBe('2024-06-01T00:00:00.000Z');
    expect(await ledger.getWatermark('dynamics')).toBe('cursor:abc');
    expect(await ledger.getWatermark('google')).toBeUndefined();
  });

  it('records reconciliation runs; a re-recorded run replaces its summary; newest first', async () => {
    await ledger.recordRun({ runId: 'run-1', startedAt: '2024-05-01T00:00:00Z', summary: { read: 1 } });
    await ledger.recordRun({
      runId: 'run-2',
      startedAt: '2024-05-02T00:00:00Z',
      summary: { read: 5, drift: { missingWithdrawal: 2 } },
    });
    await ledger.recordRun({
      runId: 'run-1',
      startedAt: '2024-05-01T00:00:00Z',
      finishedAt: '2024-05-01T00:10:00+00:00',
      summary: { read: 10, repaired: 3 },
    });
    await ledger.recordRun({ runId: 'run-3', startedAt: '2024-05-03T00:00:00Z', summary: {} });

    expect(await ledger.listRuns(2)).toEqual([
      { runId: 'run-3', startedAt: '2024-05-03T00:00:00.000Z', summary: {} },
      {
        runId: 'run-2',
        startedAt: '2024-05-02T00:00:00.000Z',
        summary: { read: 5, drift: { missingWithdrawal: 2 } },
      },
    ]);
    expect((await ledger.listRuns(10)).at(-1)).toEqual({
      runId: 'run-1',
      startedAt: '2024-05-01T00:00:00.000Z',
      finishedAt: '2024-05-01T00:10:00.000Z',
      summary: { read: 10, repaired: 3 },
    });
  });

  it('keeps the first answer for an idempotency key; a later or concurrent write for it changes nothing', async () => {
    const key = `api:test:${randomUUID()}`;
    expect(await ledger.getIdempotentResponse(key)).toBeUndefined();
    const first = {
      key,
      requestHash: 'a'.repeat(64),
      status: 202,
      body: { requestId: randomUUID(), subjectKey: randomSubjectKey() },
      createdAt: '2024-05-01T12:00:00+02:00',
    };
    const stored = { ...first, createdAt: '2024-05-01T10:00:00.000Z' };
    expect(await ledger.saveIdempotentResponse(first)).toEqual({ inserted: true, record: stored });

    const second = await open(store);
    const racing = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? ledger : second).saveIdempotentResponse({
          ...first,
          requestHash: 'b'.repeat(64),
          status: 409,
          body: { other: i },
          createdAt: new Date().toISOString(),
        }),
      ),
    );
    for (const answer of racing) expect(answer).toEqual({ inserted: false, record: stored });
    expect(await second.getIdempotentResponse(key)).toEqual(stored);
  });

  it('decides concurrent first uses of one idempotency key: exactly one write wins and all see it', async () => {
    const key = `webhook:${randomUUID()}`;
    const second = await open(store);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? ledger : second).saveIdempotentResponse({
          key,
          requestHash: String(i).padStart(64, '0'),
          status: 200,
          body: { attempt: i },
          createdAt: new Date().toISOString(),
        }),
      ),
    );
    expect(answers.filter((answer) => answer.inserted)).toHaveLength(1);
    const winner = answers.find((answer) => answer.inserted)?.record;
    for (const answer of answers) expect(answer.record).toEqual(winner);
  });

  it('deletes idempotency records by subject (erasure) and by age (expiry), and nothing on an empty filter', async () => {
    const erased = randomSubjectKey();
    const other = randomSubjectKey();
    const save = (key: string, subject: string | undefined, createdAt: string) =>
      ledger.saveIdempotentResponse({
        key,
        requestHash: 'c'.repeat(64),
        ...(subject ? { subjectKey: subject } : {}),
        status: 202,
        body: {},
        createdAt,
      });
    const recent = new Date().toISOString();
    await save('k-erased', erased, recent);
    await save('k-other', other, recent);
    await save('k-old', other, '2020-01-01T00:00:00.000Z');
    await save('k-none', undefined, recent);
    expect((await ledger.getIdempotentResponse('k-erased'))?.subjectKey).toBe(erased);
    expect(await ledger.deleteIdempotentResponses({})).toBe(0);
    expect(await ledger.deleteIdempotentResponses({ subjectKey: erased })).toBe(1);
    expect(await ledger.deleteIdempotentResponses({ createdBefore: '2021-01-01T00:00:00Z' })).toBe(1);
    expect(await ledger.getIdempotentResponse('k-erased')).toBeUndefined();
    expect(await ledger.getIdempotentResponse('k-old')).toBeUndefined();
    expect(await ledger.getIdempotentResponse('k-other')).toBeDefined();
    expect(await ledger.getIdempotentResponse('k-none')).toBeDefined();
  });

  it("keeps subject data keys wrapped, finds the newest live one, and destroys only that subject's", async () => {
    const subject = randomSubjectKey();
    const neighbour = randomSubjectKey();
    const key = (keyId: string, owner: string, createdAt: string) => ({
      keyId,
      subjectKey: owner,
      wrappedKey: Buffer.from(keyId).toString('base64'),
      wrappingKeyId: 'master-1',
      createdAt,
    });
    const older = key(randomUUID(), subject, '2024-01-01T00:00:00.000Z');
    const newer = key(randomUUID(), subject, '2024-02-01T00:00:00.000Z');
    const theirs = key(randomUUID(), neighbour, '2024-01-01T00:00:00.000Z');
    for (const each of [older, newer, theirs]) await ledger.saveSubjectDataKey(each);
    expect(await ledger.activeSubjectDataKey(subject)).toEqual(newer);
    expect(await ledger.destroySubjectDataKeys(subject, '2024-03-01T00:00:00Z')).toBe(2);
    expect(await ledger.destroySubjectDataKeys(subject, '2024-03-02T00:00:00Z')).toBe(0);
    expect(await ledger.activeSubjectDataKey(subject)).toBeUndefined();
    expect(await ledger.getSubjectDataKey(older.keyId)).toEqual({
      keyId: older.keyId,
      subjectKey: subject,
      createdAt: older.createdAt,
      destroyedAt: '2024-03-01T00:00:00.000Z',
    });
    expect(await ledger.activeSubjectDataKey(neighbour)).toEqual(theirs);
  });

  it('applies migrations once when two ledgers open the same new database at the same time', async () => {
    const fresh = await backend.createStore();
    stores.push(fresh);
    const first = capturingLogger({ level: 'info' });
    const second = capturingLogger({ level: 'info' });
    const [a, b] = await Promise.all([open(fresh, first.logger), open(fresh, second.logger)]);

    const applied = [...first.records(), ...second.records()].filter(
      (line) => line.msg === 'ledger migration applied',
    );
    expect(applied.map((line) => line.migration)).toEqual(allMigrations);
    expect(allMigrations.at(-1)).toBe(latestMigration);
    const migrations = await fresh
      .inspect()
      .selectFrom('kysely_migration')
      .select('name')
      .orderBy('name')
      .execute();
    expect(migrations).toEqual(allMigrations.map((name) => ({ name })));

    // Both work, and see each other's writes.
    const written = receipt({ subjectKey: randomSubjectKey() });
    expect(await a.recordReceipt(written)).toEqual({ inserted: true });
    expect(await b.getReceipt(written.requestId)).toEqual(written);

    // Opening again later applies nothing.
    const third = capturingLogger({ level: 'info' });
    await open(fresh, third.logger);
    expect(third.records().filter((line) => line.msg === 'ledger migration applied')).toEqual([]);
  });

  it('keeps each request with its deadline: the earlier receipt wins, two months of extension at most, listed by due date', async () => {
    const subject = randomSubjectKey();
    const early = randomUUID();
    const late = randomUUID();
    expect(
      await ledger.registerRequest({
        requestId: early,
        kind: 'erasure',
        subjectKey: subject,
        receivedAt: '2026-01-31T08:30:00+01:00',
        registeredAt: '2026-02-02T10:00:00Z',
      }),
    ).toEqual({
      requestId: early,
      kind: 'erasure',
      subjectKey: subject,
      receivedAt: '2026-01-31T07:30:00.000Z',
      dueAt: '2026-02-28T07:30:00.000Z',
      extendedMonths: 0,
    });
    // The same request registered again later keeps its receipt; registered with an earlier one, takes it.
    const again = {
      requestId: early,
      kind: 'erasure' as const,
      subjectKey: subject,
      registeredAt: '2026-02-03T00:00:00Z',
    };
    expect((await ledger.registerRequest({ ...again, receivedAt: '2026-02-01T00:00:00Z' })).receivedAt).toBe(
      '2026-01-31T07:30:00.000Z',
    );
    expect(await ledger.registerRequest({ ...again, receivedAt: '2026-01-30T00:00:00Z' })).toMatchObject({
      receivedAt: '2026-01-30T00:00:00.000Z',
      dueAt: '2026-02-28T00:00:00.000Z',
    });
    await ledger.registerRequest({
      requestId: late,
      kind: 'consent',
      subjectKey: subject,
      receivedAt: '2026-03-10T00:00:00Z',
      registeredAt: '2026-03-10T00:00:00Z',
    });

    const extend = (months: number, actionId = randomUUID()) =>
      ledger.extendRequestDeadline({
        requestId: early,
        months,
        reason: 'records in archives',
        operator: 'cli:dpo',
        at: '2026-02-20T00:00:00Z',
        actionId,
      });
    // Two extensions at once: exactly one of them moves the deadline.
    const [first, second] = await Promise.all([extend(2), extend(2)]);
    expect([first.extended, second.extended].sort()).toEqual([false, true]);
    expect(await ledger.getRequestDeadline(early)).toMatchObject({
      dueAt: '2026-04-30T00:00:00.000Z',
      extendedMonths: 2,
    });
    expect(await extend(1)).toMatchObject({ extended: false, refused: 'limit' });
    expect(
      await ledger.extendRequestDeadline({
        requestId: randomUUID(),
        months: 1,
        reason: 'x',
        operator: 'cli:dpo',
        at: '2026-02-20T00:00:00Z',
        actionId: randomUUID(),
      }),
    ).toEqual({ extended: false, refused: 'not_found' });
    expect(await ledger.listOperatorActions(early)).toEqual([
      expect.objectContaining({
        action: 'extend',
        operator: 'cli:dpo',
        requestKind: 'erasure',
        reason: '+2 months (due 2026-04-30T00:00:00.000Z): records in archives',
      }),
    ]);
    expect((await ledger.listOperatorActions(early))[0]).not.toHaveProperty('system');

    // Listed soonest due first; the open ones due before a time; a completed one is no longer open.
    expect((await ledger.listRequestDeadlines({ subjectKey: subject })).map((r) => r.requestId)).toEqual([
      late,
      early,
    ]);
    expect(
      (
        await ledger.listRequestDeadlines({
          subjectKey: subject,
          open: true,
          dueBefore: '2026-04-11T00:00:00Z',
        })
      ).map((r) => r.requestId),
    ).toEqual([late]);
    await ledger.completeRequest(late, '2026-03-12T00:00:00Z');
    await ledger.completeRequest(late, '2026-03-20T00:00:00Z');
    expect((await ledger.getRequestDeadline(late))?.completedAt).toBe('2026-03-12T00:00:00.000Z');
    expect(await ledger.listRequestDeadlines({ subjectKey: subject, open: true })).toEqual([
      expect.objectContaining({ requestId: early }),
    ]);
    expect(await ledger.listRequestDeadlines({ subjectKey: subject, kind: 'consent' })).toEqual([
      expect.objectContaining({ requestId: late, kind: 'consent' }),
    ]);
    await ledger.completeRequest(early, '2026-04-01T00:00:00Z');
    expect(await extend(1)).toMatchObject({ extended: false, refused: 'completed' });
    // The completed ones, the most recently completed first, whatever their due dates.
    expect(
      (await ledger.listRequestDeadlines({ subjectKey: subject, completed: true })).map((r) => r.requestId),
    ).toEqual([early, late]);
  });

  it("erasing a subject's operator texts removes the words of every request of theirs (extension reasons, close notes), keeps an extension's months and due date, and leaves other subjects' logs alone", async () => {
    const subject = randomSubjectKey();
    const other = randomSubjectKey();
    const consentRequest = randomUUID();
    const accessRequest = `access-${randomUUID()}`;
    const erasureRequest = `erasure-${randomUUID()}`;
    const othersRequest = randomUUID();
    for (const [requestId, kind, key] of [
      [consentRequest, 'consent', subject],
      [accessRequest, 'access', subject],
      [othersRequest, 'consent', other],
    ] as const) {
      await ledger.registerRequest({
        requestId,
        kind,
        subjectKey: key,
        receivedAt: '2026-03-01T00:00:00Z',
        registeredAt: '2026-03-01T00:00:00Z',
      });
    }
    const extend = (requestId: string) =>
      ledger.extendRequestDeadline({
        requestId,
        months: 1,
        reason: 'Ottoline Vandersteen asked for her archive',
        operator: 'cli:dpo',
        at: '2026-03-05T00:00:00Z',
        actionId: randomUUID(),
      });
    expect((await extend(consentRequest)).extended).toBe(true);
    expect((await extend(othersRequest)).extended).toBe(true);
    for (const requestId of [accessRequest, erasureRequest]) {
      await ledger.recordOperatorAction({
        id: randomUUID(),
        requestId,
        requestKind: requestId === accessRequest ? 'access' : 'erasure',
        action: 'close',
        system: 'dynamics',
        operator: 'cli:dpo',
        // The console's close is `<code>: <note>`; the code says nothing about the person and stays.
        reason:
          requestId === accessRequest ? 'handled_manually: Vandersteen row locked' : 'Vandersteen row locked',
        at: '2026-03-06T00:00:00Z',
      });
    }

    // The erasure's own request is not registered here (an erasure from before deadlines were kept).
    expect(await ledger.eraseOperatorTexts(subject, [erasureRequest])).toBe(3);
    expect((await ledger.listOperatorActions(consentRequest)).map((a) => a.reason)).toEqual([
      '+1 month (due 2026-05-01T00:00:00.000Z): [removed: the subject was erased]',
    ]);
    expect((await ledger.listOperatorActions(accessRequest)).map((a) => a.reason)).toEqual([
      'handled_manually: [removed: the subject was erased]',
    ]);
    expect((await ledger.listOperatorActions(erasureRequest)).map((a) => a.reason)).toEqual([
      '[removed: the subject was erased]',
    ]);
    expect((await ledger.listOperatorActions(othersRequest))[0]?.reason).toContain('Ottoline Vandersteen');
    // A second erasure of the same subject finds nothing left to remove.
    expect(await ledger.eraseOperatorTexts(subject, [erasureRequest])).toBe(0);
  });

  it("stores an operator text that arrives after its subject's erasure as the erasure leaves it (a close note written after the outcome, an extension), and keeps the texts of a request received after the erasure", async () => {
    const subject = randomSubjectKey();
    const erasureRequest = `erasure-${randomUUID()}`;
    const consentRequest = randomUUID();
    const laterRequest = `access-${randomUUID()}`;
    await ledger.registerRequest({
      requestId: consentRequest,
      kind: 'consent',
      subjectKey: subject,
      receivedAt: '2026-03-01T00:00:00Z',
      registeredAt: '2026-03-01T00:00:00Z',
    });
    await ledger.recordTombstone({
      subjectKey: subject,
      erasedAt: '2026-03-02T00:00:00Z',
      systems: ['dynamics'],
      firstRequestId: erasureRequest,
      lastRequestId: erasureRequest,
    });
    expect(await ledger.eraseOperatorTexts(subject, [erasureRequest])).toBe(0);
    // The race: the client writes the close note after its update returned, the outcome already ran.
    const close = (requestId: string, reason: string) =>
      ledger.recordOperatorAction({
        id: randomUUID(),
        requestId,
        requestKind: 'erasure',
        action: 'close',
        system: 'dynamics',
        operator: 'cli:dpo',
        reason,
        at: '2026-03-03T00:00:00Z',
      });
    await close(erasureRequest, 'handled_manually: Vandersteen row locked');
    await close(erasureRequest, 'Vandersteen row locked');
    expect((await ledger.listOperatorActions(erasureRequest)).map((a) => a.reason).sort()).toEqual([
      '[removed: the subject was erased]',
      'handled_manually: [removed: the subject was erased]',
    ]);
    const extended = await ledger.extendRequestDeadline({
      requestId: consentRequest,
      months: 1,
      reason: 'Ottoline Vandersteen asked for more',
      operator: 'cli:dpo',
      at: '2026-03-03T00:00:00Z',
      actionId: randomUUID(),
    });
    expect(extended.extended).toBe(true);
    const [extension] = await ledger.listOperatorActions(consentRequest);
    expect(extension?.reason).toMatch(/^\+1 month \(due [^)]*\): \[removed: the subject was erased\]$/);
    // The person came back after the erasure: a new request's texts are theirs to keep (redacted upstream).
    await ledger.registerRequest({
      requestId: laterRequest,
      kind: 'access',
      subjectKey: subject,
      receivedAt: new Date(Date.now() + 60_000).toISOString(),
      registeredAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await close(laterRequest, 'handled_manually: row locked, retry on Monday');
    expect((await ledger.listOperatorActions(laterRequest))[0]?.reason).toBe(
      'handled_manually: row locked, retry on Monday',
    );
  });

  it('closes twice without complaint', async () => {
    const extra = await openLedger(store.options, silent);
    await extra.close();
    await extra.close();
  });
});
