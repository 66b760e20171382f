import { type Kysely, PostgresAdapter, sql, type Transaction } from 'kysely';
import type { AccessReceipt } from '../domain/access.js';
import type {
  AddressChangeRefusal,
  AddressChangeRefusalReason,
  AddressChangeResolution,
} from '../domain/address-change-refusal.js';
import type { ErasureReceipt, NotDeletedReason } from '../domain/erasure.js';
import type { LegalHold, RestrictionReceipt } from '../domain/hold.js';
import type { RectificationReceipt } from '../domain/rectification.js';
import {
  dueAtFor,
  maxExtensionMonths,
  type RequestDeadline,
  type RequestKind,
} from '../domain/request-deadline.js';
import { type SystemName, systemNames } from '../domain/systems.js';
import {
  type ConsentAppendResult,
  type ConsentEvent,
  type ConsentOutcomeRecord,
  type ConsoleSessionRecord,
  consentEventSchema,
  type ErasureFollowUp,
  type ErasureRecordEntry,
  type ErasureRecordRef,
  type ErasureRecordResult,
  erasedOperatorText,
  erasedReason,
  type HarvestedIdPage,
  type IdempotencyRecord,
  type Ledger,
  type OperatorActionRecord,
  type ReconciliationRunRecord,
  type RectificationMoveRecord,
  type SubjectDataKeyRecord,
  type SystemConsentStateRecord,
  type Tombstone,
} from './ledger.js';
import type {
  AddressChangeRefusalsTable,
  ConsentEventsTable,
  LedgerDatabase,
  LegalHoldsTable,
  RequestDeadlinesTable,
  SubjectDataKeysTable,
} from './schema.js';

/**
 * Times are stored as UTC ISO-8601 text so that string order is time order on both backends: `+02:00`
 * offsets or missing milliseconds would break `>=` and `ORDER BY`.
 */
export function toUtcIso(value: string, what: string): string {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new TypeError(`${what} is not a date-time`);
  return time.toISOString();
}

/** The tables that keep each request's receipt as JSON (`receipt`) by `request_id`, and the receipt each holds. */
interface ReceiptIn {
  erasure_receipts: ErasureReceipt;
  access_receipts: AccessReceipt;
  restriction_receipts: RestrictionReceipt;
  rectification_receipts: RectificationReceipt;
}
type ReceiptTable = keyof ReceiptIn;

/** The time a table's receipts are listed by: when the request ended (a restriction: when it was placed). */
const receiptTimeColumn = {
  erasure_receipts: 'completed_at',
  access_receipts: 'completed_at',
  restriction_receipts: 'restricted_at',
  rectification_receipts: 'completed_at',
} as const satisfies Record<ReceiptTable, string>;

/** The one Ledger implementation; the dialect behind `db` is SQLite or PostgreSQL. */
export class KyselyLedger implements Ledger {
  private closing: Promise<void> | undefined;
  private readonly postgres: boolean;

  constructor(private readonly db: Kysely<LedgerDatabase>) {
    this.postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  }

  /**
   * Runs consent writes and the erasure's consent clean-up one at a time per subject. SQLite needs nothing
   * more: each write below is one statement, and SQLite takes its write lock before the statement reads, so
   * the tombstone check and the insert are atomic. PostgreSQL's READ COMMITTED would let an insert whose
   * snapshot predates the tombstone commit after the clean-up; a transaction-scoped advisory lock on the
   * subject key orders them, and each statement after the lock sees everything committed before it.
   */
  private async perSubject<T>(
    subjectKey: string,
    run: (db: Kysely<LedgerDatabase> | Transaction<LedgerDatabase>) => Promise<T>,
  ): Promise<T> {
    if (!this.postgres) return run(this.db);
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`consent:${subjectKey}`}, 0))`.execute(trx);
      return run(trx);
    });
  }

  /** True (as SQL) while the subject has a tombstone and `what` must not be written under it. */
  private blockedByTombstone(subjectKey: string, what: 'grant' | 'consent data') {
    // A grant is refused by any tombstone. Other consent data is kept while the erasure is incomplete (it is
    // the opt-out evidence a later erasure still needs) and not kept once every system was erased.
    return what === 'grant'
      ? sql<boolean>`exists (select 1 from tombstones where subject_key = ${subjectKey})`
      : sql<boolean>`(select count(*) from tombstone_systems where subject_key = ${subjectKey}) >= ${sql.lit(systemNames.length)}`;
  }

  async appendConsentEvent(input: ConsentEvent): Promise<ConsentAppendResult> {
    const event = consentEventSchema.parse(input);
    const values = {
      id: event.id,
      subject_key: event.subjectKey,
      purpose: event.purpose,
      decision: event.decision,
      occurred_at: toUtcIso(event.occurredAt, 'occurredAt'),
      recorded_at: toUtcIso(event.recordedAt, 'recordedAt'),
      source: event.source,
      evidence: JSON.stringify(event.evidence),
    };
    const blocked = this.blockedByTombstone(
      event.subjectKey,
      event.decision === 'granted' ? 'grant' : 'consent data',
    );
    return this.perSubject(event.subjectKey, async (db) => {
      const result = await sql`
        insert into consent_events (id, subject_key, purpose, decision, occurred_at, recorded_at, source, evidence)
        select ${values.id}, ${values.subject_key}, ${values.purpose}, ${values.decision}, ${values.occurred_at},
               ${values.recorded_at}, ${values.source}, ${values.evidence}
        where not (${blocked})
        on conflict (id) do nothing`.execute(db);
      if (Number(result.numAffectedRows ?? 0n) > 0) return { inserted: true };
      const existing = await db
        .selectFrom('consent_events')
        .select('id')
        .where('id', '=', event.id)
        .executeTakeFirst();
      if (existing) return { inserted: false };
      return {
        inserted: false,
        skipped: event.decision === 'granted' ? 'refused_after_erasure' : 'not_kept_after_erasure',
      };
    });
  }

  async listConsentEvents(subjectKey: string): Promise<ConsentEvent[]> {
    const rows = await this.db
      .selectFrom('consent_events')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .orderBy('occurred_at')
      .orderBy('recorded_at')
      .orderBy('id')
      .execute();
    return rows.map(consentEventFromRow);
  }

  async deleteConsentEvents(subjectKey: string): Promise<number> {
    return this.perSubject(subjectKey, async (db) => {
      await db.deleteFrom('consent_system_states').where('subject_key', '=', subjectKey).execute();
      await db.deleteFrom('consent_outcomes').where('subject_key', '=', subjectKey).execute();
      const result = await db
        .deleteFrom('consent_events')
        .where('subject_key', '=', subjectKey)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  async recordConsentOutcome(record: ConsentOutcomeRecord): Promise<void> {
    await this.perSubject(record.subjectKey, (db) => this.writeOutcome(db, record));
  }

  /**
   * `keepSettled`: an answer that says the event's decision reached the system (`applied`, `already`) is
   * what carrying that decision did there, so a later write of the whole state (for another purpose, or a
   * repair) does not replace it; only `withheld` does, because then the tool no longer shows that grant.
   */
  private async writeOutcome(
    db: Kysely<LedgerDatabase> | Transaction<LedgerDatabase>,
    record: ConsentOutcomeRecord,
    keepSettled = false,
  ): Promise<void> {
    const row = {
      event_id: record.eventId,
      system: record.system,
      subject_key: record.subjectKey,
      outcome: record.outcome,
      reason: record.reason ?? null,
      recorded_at: toUtcIso(record.recordedAt, 'recordedAt'),
    };
    await sql`
      insert into consent_outcomes (event_id, system, subject_key, outcome, reason, recorded_at)
      select ${row.event_id}, ${row.system}, ${row.subject_key}, ${row.outcome}, ${row.reason}, ${row.recorded_at}
      where not (${this.blockedByTombstone(record.subjectKey, 'consent data')})
      on conflict (event_id, system) do update
        set outcome = excluded.outcome, reason = excluded.reason, recorded_at = excluded.recorded_at
        where ${keepSettled ? sql`not (consent_outcomes.outcome in ('applied', 'already') and excluded.outcome <> 'withheld')` : sql`true`}`.execute(
      db,
    );
  }

  async recordSystemConsentState(state: SystemConsentStateRecord): Promise<void> {
    const writtenAt = toUtcIso(state.writtenAt, 'writtenAt');
    const purposes = Object.fromEntries(
      Object.entries(state.eventIds).map(([purpose, eventId]) => [
        purpose,
        { eventId, outcome: state.purposes[purpose as keyof typeof state.purposes] ?? state.outcome },
      ]),
    );
    await this.perSubject(state.subjectKey, async (db) => {
      await sql`
        insert into consent_system_states (subject_key, system, outcome, reason, fields, purposes, written_at)
        select ${state.subjectKey}, ${state.system}, ${state.outcome}, ${state.reason ?? null},
               ${JSON.stringify(state.fields)}, ${JSON.stringify(purposes)}, ${writtenAt}
        where not (${this.blockedByTombstone(state.subjectKey, 'consent data')})
        on conflict (subject_key, system) do update
          set outcome = excluded.outcome, reason = excluded.reason, fields = excluded.fields,
              purposes = excluded.purposes, written_at = excluded.written_at`.execute(db);
      for (const entry of Object.values(purposes)) {
        await this.writeOutcome(
          db,
          {
            eventId: entry.eventId as string,
            subjectKey: state.subjectKey,
            system: state.system,
            outcome: entry.outcome,
            reason: state.reason,
            recordedAt: writtenAt,
          },
          true,
        );
      }
    });
  }

  async listSystemConsentStates(subjectKey: string): Promise<SystemConsentStateRecord[]> {
    const rows = await this.db
      .selectFrom('consent_system_states')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .execute();
    const bySystem = new Map(rows.map((row) => [row.system, row]));
    return systemNames.flatMap((system) => {
      const row = bySystem.get(system);
      if (!row) return [];
      const purposes = JSON.parse(row.purposes) as Record<
        string,
        { eventId: string; outcome: SystemConsentStateRecord['outcome'] }
      >;
      return [
        {
          subjectKey: row.subject_key,
          system,
          outcome: row.outcome as SystemConsentStateRecord['outcome'],
          ...(row.reason === null ? {} : { reason: row.reason }),
          fields: JSON.parse(row.fields) as Record<string, string>,
          eventIds: Object.fromEntries(Object.entries(purposes).map(([p, e]) => [p, e.eventId])),
          purposes: Object.fromEntries(Object.entries(purposes).map(([p, e]) => [p, e.outcome])),
          writtenAt: row.written_at,
        },
      ];
    });
  }

  async listUnresolvedConsentSubjects(system: SystemName, limit: number, after?: string): Promise<string[]> {
    // Keyset order by subject key: stable while repairs rewrite written_at during the walk.
    let query = this.db
      .selectFrom('consent_system_states')
      .select('subject_key')
      .where('system', '=', system)
      .where('outcome', 'in', ['failed', 'closed_by_operator']);
    if (after !== undefined) query = query.where('subject_key', '>', after);
    const rows = await query.orderBy('subject_key').limit(limit).execute();
    return rows.map((row) => row.subject_key);
  }

  async listConsentOutcomes(subjectKey: string): Promise<ConsentOutcomeRecord[]> {
    const rows = await this.db
      .selectFrom('consent_outcomes')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .orderBy('recorded_at')
      .orderBy('event_id')
      .orderBy('system')
      .execute();
    return rows.map((row) => ({
      eventId: row.event_id,
      subjectKey: row.subject_key,
      system: row.system as SystemName,
      outcome: row.outcome as ConsentOutcomeRecord['outcome'],
      reason: row.reason ?? undefined,
      recordedAt: row.recorded_at,
    }));
  }

  async recordReceipt(receipt: ErasureReceipt): Promise<{ inserted: boolean }> {
    // The primary key decides between concurrent retries: exactly one insert wins, the rest do nothing.
    const result = await this.db
      .insertInto('erasure_receipts')
      .values({
        request_id: receipt.requestId,
        subject_key: receipt.subjectKey,
        completed_at: toUtcIso(receipt.completedAt, 'completedAt'),
        outcome: receipt.outcome,
        receipt: JSON.stringify(receipt),
        stored_at: new Date().toISOString(),
      })
      .onConflict((conflict) => conflict.column('request_id').doNothing())
      .executeTakeFirst();
    return { inserted: Number(result.numInsertedOrUpdatedRows ?? 0n) > 0 };
  }

  getReceipt(requestId: string): Promise<ErasureReceipt | undefined> {
    return this.receiptById('erasure_receipts', requestId);
  }

  async listReceipts(filter: { since?: string; subjectKey?: string } = {}): Promise<ErasureReceipt[]> {
    let query = this.db
      .selectFrom('erasure_receipts')
      .select('receipt')
      .orderBy('completed_at')
      .orderBy('request_id');
    if (filter.since !== undefined)
      query = query.where('completed_at', '>=', toUtcIso(filter.since, 'since'));
    if (filter.subjectKey !== undefined) query = query.where('subject_key', '=', filter.subjectKey);
    const rows = await query.execute();
    return rows.map((row) => JSON.parse(row.receipt) as ErasureReceipt);
  }

  async planErasureRecords(
    requestId: string,
    system: SystemName,
    records: ErasureRecordRef[],
  ): Promise<number> {
    let inserted = 0;
    const now = new Date().toISOString();
    for (const chunk of chunks(records, writeChunk)) {
      const result = await this.db
        .insertInto('erasure_records')
        .values(chunk.map((record) => recordRow(requestId, system, { ...record, result: 'planned' }, now)))
        .onConflict((conflict) =>
          conflict.columns(['request_id', 'system', 'kind', 'container', 'record_id']).doNothing(),
        )
        .executeTakeFirst();
      inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
    }
    return inserted;
  }

  async readdressErasureRecords(
    requestId: string,
    system: SystemName,
    moves: { from: ErasureRecordRef; to: ErasureRecordRef }[],
  ): Promise<void> {
    const now = new Date().toISOString();
    for (const { from, to } of moves) {
      await this.db.transaction().execute(async (trx) => {
        const record = (ref: ErasureRecordRef) =>
          trx
            .selectFrom('erasure_records')
            .select('result')
            .where('request_id', '=', requestId)
            .where('system', '=', system)
            .where('kind', '=', ref.kind)
            .where('container', '=', ref.container ?? '')
            .where('record_id', '=', ref.id);
        const planned = (query: ReturnType<typeof record>) => query.where('result', '=', 'planned');
        if (!(await planned(record(from)).executeTakeFirst())) return;
        const fromRow = trx
          .deleteFrom('erasure_records')
          .where('request_id', '=', requestId)
          .where('system', '=', system)
          .where('kind', '=', from.kind)
          .where('container', '=', from.container ?? '')
          .where('record_id', '=', from.id)
          .where('result', '=', 'planned');
        await fromRow.execute();
        if (await record(to).executeTakeFirst()) return;
        await trx
          .insertInto('erasure_records')
          .values(recordRow(requestId, system, { ...to, result: 'planned' }, now))
          .execute();
      });
    }
  }

  async markErasureRecords(
    requestId: string,
    system: SystemName,
    records: ErasureRecordEntry[],
  ): Promise<void> {
    const now = new Date().toISOString();
    for (const chunk of chunks(records, writeChunk)) {
      if (chunk.length === 0) continue;
      await this.db
        .insertInto('erasure_records')
        .values(chunk.map((record) => recordRow(requestId, system, record, now)))
        .onConflict((conflict) =>
          conflict.columns(['request_id', 'system', 'kind', 'container', 'record_id']).doUpdateSet((eb) => ({
            result: eb.ref('excluded.result'),
            vendor_time: eb.ref('excluded.vendor_time'),
            updated_at: eb.ref('excluded.updated_at'),
            reason: eb.ref('excluded.reason'),
            vendor_status: eb.ref('excluded.vendor_status'),
          })),
        )
        .execute();
    }
  }

  async markErasureRecordsNotDeleted(
    requestId: string,
    system: SystemName,
    reason: NotDeletedReason,
  ): Promise<number> {
    const result = await this.db
      .updateTable('erasure_records')
      .set((eb) => ({
        result: 'not_deleted',
        // A record the vendor refused keeps that reason; the others take the system's.
        reason: eb.fn.coalesce('reason', eb.val(reason)),
        updated_at: new Date().toISOString(),
      }))
      .where('request_id', '=', requestId)
      .where('system', '=', system)
      .where('result', '=', 'planned')
      .executeTakeFirst();
    return Number(result.numUpdatedRows ?? 0n);
  }

  async saveHarvestedIdPages(requestId: string, pages: HarvestedIdPage[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('erasure_harvested_ids').where('request_id', '=', requestId).execute();
      for (const chunk of chunks(pages, writeChunk)) {
        if (chunk.length === 0) continue;
        await trx
          .insertInto('erasure_harvested_ids')
          .values(
            chunk.map((p) => ({
              request_id: requestId,
              page: p.page,
              id_count: p.count,
              sealed: p.sealed,
              submitted_at: p.submittedAt ?? null,
            })),
          )
          .execute();
      }
    });
  }

  async listHarvestedIdPages(requestId: string): Promise<HarvestedIdPage[]> {
    const rows = await this.db
      .selectFrom('erasure_harvested_ids')
      .selectAll()
      .where('request_id', '=', requestId)
      .orderBy('page')
      .execute();
    return rows.map((row) => ({
      page: Number(row.page),
      count: Number(row.id_count),
      sealed: row.sealed,
      ...(row.submitted_at ? { submittedAt: row.submitted_at } : {}),
    }));
  }

  async markHarvestedIdPageSubmitted(requestId: string, page: number, at: string): Promise<void> {
    await this.db
      .updateTable('erasure_harvested_ids')
      .set({ submitted_at: at })
      .where('request_id', '=', requestId)
      .where('page', '=', page)
      .execute();
  }

  async recordGoogleSubmissions(
    scope: string,
    entries: { recordKey: string; vendorTime?: string }[],
    at: string,
  ): Promise<void> {
    for (const chunk of chunks(entries, writeChunk)) {
      if (chunk.length === 0) continue;
      await this.db
        .insertInto('google_submissions')
        .values(
          chunk.map((e) => ({
            scope,
            record_key: e.recordKey,
            vendor_time: e.vendorTime ?? null,
            submitted_at: at,
          })),
        )
        .onConflict((oc) => oc.columns(['scope', 'record_key']).doNothing())
        .execute();
    }
  }

  async listGoogleSubmissions(scope: string): Promise<{ recordKey: string; vendorTime?: string }[]> {
    const rows = await this.db
      .selectFrom('google_submissions')
      .select(['record_key', 'vendor_time'])
      .where('scope', '=', scope)
      .execute();
    return rows.map((row) => ({
      recordKey: row.record_key,
      ...(row.vendor_time ? { vendorTime: row.vendor_time } : {}),
    }));
  }

  async listErasureRecords(
    requestId: string,
    options: { system?: SystemName; result?: ErasureRecordResult; after?: ErasureRecordEntry; limit: number },
  ): Promise<ErasureRecordEntry[]> {
    let query = this.db
      .selectFrom('erasure_records')
      .selectAll()
      .where('request_id', '=', requestId)
      .orderBy('system')
      .orderBy('kind')
      .orderBy('container')
      .orderBy('record_id')
      .limit(options.limit);
    if (options.system) query = query.where('system', '=', options.system);
    if (options.result) query = query.where('result', '=', options.result);
    const after = options.after;
    if (after) {
      // Keyset paging on the sort key; with one system the first term is always equal.
      query = query.where(({ eb, refTuple, tuple }) =>
        eb(
          refTuple('kind', 'container', 'record_id'),
          '>',
          tuple(after.kind, after.container ?? '', after.id),
        ),
      );
    }
    const rows = await query.execute();
    return rows.map((row) => ({
      kind: row.kind,
      id: row.record_id,
      ...(row.container ? { container: row.container } : {}),
      result: row.result as ErasureRecordResult,
      ...(row.vendor_time ? { vendorTime: row.vendor_time } : {}),
      ...(row.reason ? { reason: row.reason as NotDeletedReason } : {}),
      ...(row.vendor_status != null ? { httpStatus: Number(row.vendor_status) } : {}),
    }));
  }

  async countErasureRecords(
    requestId: string,
    system: SystemName,
  ): Promise<Partial<Record<ErasureRecordResult, number>>> {
    const rows = await this.db
      .selectFrom('erasure_records')
      .select(['result', (eb) => eb.fn.countAll<number | string | bigint>().as('count')])
      .where('request_id', '=', requestId)
      .where('system', '=', system)
      .groupBy('result')
      .execute();
    return Object.fromEntries(rows.map((row) => [row.result, Number(row.count)]));
  }

  async updateErasureFollowUps(update: {
    subjectKey: string;
    requestId: string;
    open: { system: SystemName; status: string }[];
    reached: SystemName[];
    at: string;
  }): Promise<SystemName[]> {
    if (update.reached.length > 0) {
      await this.db
        .deleteFrom('erasure_follow_ups')
        .where('subject_key', '=', update.subjectKey)
        .where('system', 'in', update.reached)
        .execute();
    }
    if (update.open.length > 0) {
      // The first erasure that left a system open stays named; a later one that also failed does not move it.
      await this.db
        .insertInto('erasure_follow_ups')
        .values(
          update.open.map(({ system, status }) => ({
            subject_key: update.subjectKey,
            system,
            request_id: update.requestId,
            status,
            since: toUtcIso(update.at, 'at'),
          })),
        )
        .onConflict((conflict) => conflict.columns(['subject_key', 'system']).doNothing())
        .execute();
    }
    const rows = await this.db
      .selectFrom('erasure_follow_ups')
      .select('system')
      .where('subject_key', '=', update.subjectKey)
      .execute();
    const open = new Set(rows.map((row) => row.system));
    return systemNames.filter((system) => open.has(system));
  }

  async listErasureFollowUps(): Promise<ErasureFollowUp[]> {
    const rows = await this.db
      .selectFrom('erasure_follow_ups')
      .selectAll()
      .orderBy('since')
      .orderBy('subject_key')
      .orderBy('system')
      .execute();
    return rows.map((row) => ({
      subjectKey: row.subject_key,
      system: row.system as SystemName,
      requestId: row.request_id,
      status: row.status,
      since: row.since,
    }));
  }

  async recordTombstone(tombstone: Tombstone): Promise<void> {
    const now = new Date().toISOString();
    // Two single statements rather than a transaction: each is atomic and idempotent, and in this order a
    // crash between them leaves at worst systems without a tombstone, which the activity's retry completes.
    // (A transaction held across awaits would also make a second SQLite connection in the same process
    // block the event loop in its busy wait.)
    if (tombstone.systems.length > 0) {
      await this.db
        .insertInto('tombstone_systems')
        .values(tombstone.systems.map((system) => ({ subject_key: tombstone.subjectKey, system })))
        .onConflict((conflict) => conflict.columns(['subject_key', 'system']).doNothing())
        .execute();
    }
    // The first erasure's time and request stay; only the latest request moves.
    await this.db
      .insertInto('tombstones')
      .values({
        subject_key: tombstone.subjectKey,
        erased_at: toUtcIso(tombstone.erasedAt, 'erasedAt'),
        first_request_id: tombstone.firstRequestId,
        last_request_id: tombstone.lastRequestId,
        updated_at: now,
      })
      .onConflict((conflict) =>
        conflict.column('subject_key').doUpdateSet((eb) => ({
          last_request_id: eb.ref('excluded.last_request_id'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  async getTombstone(subjectKey: string): Promise<Tombstone | undefined> {
    const row = await this.db
      .selectFrom('tombstones')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .executeTakeFirst();
    if (!row) return undefined;
    const systemRows = await this.db
      .selectFrom('tombstone_systems')
      .select('system')
      .where('subject_key', '=', subjectKey)
      .execute();
    const reached = new Set(systemRows.map((systemRow) => systemRow.system));
    return {
      subjectKey: row.subject_key,
      erasedAt: row.erased_at,
      // The hub's own order, not the database's, so output is stable across backends.
      systems: systemNames.filter((system) => reached.has(system)),
      firstRequestId: row.first_request_id,
      lastRequestId: row.last_request_id,
    };
  }

  async getWatermark(system: SystemName): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('watermarks')
      .select('value')
      .where('system', '=', system)
      .executeTakeFirst();
    return row?.value;
  }

  async setWatermark(system: SystemName, value: string): Promise<void> {
    // A watermark may be a vendor's opaque cursor rather than a time, so it is stored as given.
    await this.db
      .insertInto('watermarks')
      .values({ system, value, updated_at: new Date().toISOString() })
      .onConflict((conflict) =>
        conflict.column('system').doUpdateSet((eb) => ({
          value: eb.ref('excluded.value'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  async recordRun(run: ReconciliationRunRecord): Promise<void> {
    await this.db
      .insertInto('reconciliation_runs')
      .values({
        run_id: run.runId,
        started_at: toUtcIso(run.startedAt, 'startedAt'),
        finished_at: run.finishedAt === undefined ? null : toUtcIso(run.finishedAt, 'finishedAt'),
        summary: JSON.stringify(run.summary),
      })
      .onConflict((conflict) =>
        conflict.column('run_id').doUpdateSet((eb) => ({
          started_at: eb.ref('excluded.started_at'),
          finished_at: eb.ref('excluded.finished_at'),
          summary: eb.ref('excluded.summary'),
        })),
      )
      .execute();
  }

  /** The newest runs first. */
  async listRuns(limit: number): Promise<ReconciliationRunRecord[]> {
    const rows = await this.db
      .selectFrom('reconciliation_runs')
      .selectAll()
      .orderBy('started_at', 'desc')
      .orderBy('run_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      runId: row.run_id,
      startedAt: row.started_at,
      ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
      summary: JSON.parse(row.summary) as Record<string, unknown>,
    }));
  }

  async getConsentEvent(id: string): Promise<ConsentEvent | undefined> {
    const row = await this.db
      .selectFrom('consent_events')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? consentEventFromRow(row) : undefined;
  }

  async createConsoleSession(session: ConsoleSessionRecord): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('expires_at', '<=', session.createdAt).execute();
    await this.db
      .insertInto('console_sessions')
      .values({
        token_hash: session.tokenHash,
        key_id: session.keyId,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  async getConsoleSession(tokenHash: string, now: string): Promise<ConsoleSessionRecord | undefined> {
    const row = await this.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row
      ? { tokenHash: row.token_hash, keyId: row.key_id, createdAt: row.created_at, expiresAt: row.expires_at }
      : undefined;
  }

  async deleteConsoleSession(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('token_hash', '=', tokenHash).execute();
  }

  /**
   * Whether a request's subject was erased after the request came in: the request is an erasure's own (the
   * tombstone's first or latest), or it is registered under a subject whose tombstone was last written at
   * or after it was received. Its operator texts are then stored erased (`erasedReason`), as
   * `eraseOperatorTexts` would have left them: a close note the client writes after its update returned
   * can land after the erasure's outcome has already removed the words (issue 16). A request received after
   * the latest erasure (the person came back) keeps its texts.
   */
  private async erasedBefore(
    db: Kysely<LedgerDatabase> | Transaction<LedgerDatabase>,
    requestId: string,
  ): Promise<boolean> {
    const own = await db
      .selectFrom('tombstones')
      .select('subject_key')
      .where((eb) => eb.or([eb('first_request_id', '=', requestId), eb('last_request_id', '=', requestId)]))
      .executeTakeFirst();
    if (own) return true;
    const covered = await db
      .selectFrom('request_deadlines')
      .innerJoin('tombstones', 'tombstones.subject_key', 'request_deadlines.subject_key')
      .select('request_deadlines.request_id')
      .where('request_deadlines.request_id', '=', requestId)
      .whereRef('tombstones.updated_at', '>=', 'request_deadlines.received_at')
      .executeTakeFirst();
    return covered !== undefined;
  }

  async recordOperatorAction(entry: OperatorActionRecord): Promise<void> {
    const reason =
      entry.reason !== undefined && (await this.erasedBefore(this.db, entry.requestId))
        ? erasedReason(entry.action, entry.reason)
        : entry.reason;
    await this.db
      .insertInto('operator_actions')
      .values({
        id: entry.id,
        request_id: entry.requestId,
        request_kind: entry.requestKind,
        action: entry.action,
        // '' for an action on the whole request (an extension): the column predates such actions.
        system: entry.system ?? '',
        operator: entry.operator,
        reason: reason ?? null,
        at: toUtcIso(entry.at, 'at'),
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
  }

  async listOperatorActions(requestId: string): Promise<OperatorActionRecord[]> {
    const rows = await this.db
      .selectFrom('operator_actions')
      .selectAll()
      .where('request_id', '=', requestId)
      .orderBy('at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      requestId: row.request_id,
      requestKind: row.request_kind,
      action: row.action as OperatorActionRecord['action'],
      ...(row.system === '' ? {} : { system: row.system as SystemName }),
      operator: row.operator,
      ...(row.reason === null ? {} : { reason: row.reason }),
      at: row.at,
    }));
  }

  async eraseOperatorTexts(subjectKey: string, requestIds: readonly string[] = []): Promise<number> {
    const registered = this.db
      .selectFrom('request_deadlines')
      .select('request_id')
      .where('subject_key', '=', subjectKey);
    const rows = await this.db
      .selectFrom('operator_actions')
      .select(['id', 'action', 'reason'])
      .where((eb) =>
        eb.or([
          eb('request_id', 'in', registered),
          ...(requestIds.length > 0 ? [eb('request_id', 'in', [...requestIds])] : []),
        ]),
      )
      .where('reason', 'is not', null)
      .where('reason', 'not like', `%${erasedOperatorText}`)
      .execute();
    for (const row of rows) {
      await this.db
        .updateTable('operator_actions')
        .set({ reason: erasedReason(row.action, row.reason ?? '') })
        .where('id', '=', row.id)
        .execute();
    }
    return rows.length;
  }

  async registerRequest(request: {
    requestId: string;
    kind: RequestKind;
    subjectKey: string;
    receivedAt: string;
    registeredAt: string;
  }): Promise<RequestDeadline> {
    const receivedAt = toUtcIso(request.receivedAt, 'receivedAt');
    await this.db
      .insertInto('request_deadlines')
      .values({
        request_id: request.requestId,
        kind: request.kind,
        subject_key: request.subjectKey,
        received_at: receivedAt,
        due_at: dueAtFor(receivedAt),
        extended_months: 0,
        completed_at: null,
        registered_at: toUtcIso(request.registeredAt, 'registeredAt'),
      })
      .onConflict((conflict) => conflict.column('request_id').doNothing())
      .execute();
    const stored = await this.getRequestDeadline(request.requestId);
    if (!stored) throw new Error(`request ${request.requestId} was not registered`);
    if (receivedAt >= stored.receivedAt) return stored;
    // The same request received earlier by another channel: the earlier receipt sets the deadline.
    await this.db
      .updateTable('request_deadlines')
      .set({ received_at: receivedAt, due_at: dueAtFor(receivedAt, stored.extendedMonths) })
      .where('request_id', '=', request.requestId)
      .where('received_at', '>', receivedAt)
      .where('extended_months', '=', stored.extendedMonths)
      .execute();
    return (await this.getRequestDeadline(request.requestId)) as RequestDeadline;
  }

  async getRequestDeadline(requestId: string): Promise<RequestDeadline | undefined> {
    const row = await this.db
      .selectFrom('request_deadlines')
      .selectAll()
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    return row ? requestDeadlineFromRow(row) : undefined;
  }

  async extendRequestDeadline(extension: {
    requestId: string;
    months: number;
    reason: string;
    operator: string;
    at: string;
    actionId: string;
  }): Promise<
    | { extended: true; deadline: RequestDeadline }
    | { extended: false; refused: 'not_found' | 'completed' | 'limit'; deadline?: RequestDeadline }
  > {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('request_deadlines')
        .selectAll()
        .where('request_id', '=', extension.requestId)
        .executeTakeFirst();
      if (!row) return { extended: false, refused: 'not_found' } as const;
      const deadline = requestDeadlineFromRow(row);
      if (row.completed_at !== null) return { extended: false, refused: 'completed', deadline } as const;
      const months = row.extended_months + extension.months;
      if (months > maxExtensionMonths) return { extended: false, refused: 'limit', deadline } as const;
      const dueAt = dueAtFor(row.received_at, months);
      // Conditional on the months read: of two extensions at once, the second finds it changed and is refused.
      const updated = await trx
        .updateTable('request_deadlines')
        .set({ extended_months: months, due_at: dueAt })
        .where('request_id', '=', extension.requestId)
        .where('extended_months', '=', row.extended_months)
        .where('completed_at', 'is', null)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1)
        return { extended: false, refused: 'limit', deadline } as const;
      const text = `+${extension.months} month${extension.months === 1 ? '' : 's'} (due ${dueAt}): ${extension.reason}`;
      // An extension of a request whose subject is already erased keeps its months, not its words.
      const reason = (await this.erasedBefore(trx, extension.requestId))
        ? erasedReason('extend', text)
        : text;
      await trx
        .insertInto('operator_actions')
        .values({
          id: extension.actionId,
          request_id: extension.requestId,
          request_kind: row.kind,
          action: 'extend',
          system: '',
          operator: extension.operator,
          reason,
          at: toUtcIso(extension.at, 'at'),
        })
        .execute();
      return { extended: true, deadline: { ...deadline, dueAt, extendedMonths: months } } as const;
    });
  }

  async completeRequest(requestId: string, completedAt: string): Promise<void> {
    await this.db
      .updateTable('request_deadlines')
      .set({ completed_at: toUtcIso(completedAt, 'completedAt') })
      .where('request_id', '=', requestId)
      .where('completed_at', 'is', null)
      .execute();
  }

  async listRequestDeadlines(
    filter: {
      open?: boolean;
      completed?: boolean;
      dueBefore?: string;
      kind?: RequestKind;
      subjectKey?: string;
      limit?: number;
    } = {},
  ): Promise<RequestDeadline[]> {
    let query = this.db.selectFrom('request_deadlines').selectAll();
    if (filter.open) query = query.where('completed_at', 'is', null);
    if (filter.completed) query = query.where('completed_at', 'is not', null).orderBy('completed_at', 'desc');
    if (filter.dueBefore) query = query.where('due_at', '<', toUtcIso(filter.dueBefore, 'dueBefore'));
    if (filter.kind) query = query.where('kind', '=', filter.kind);
    if (filter.subjectKey) query = query.where('subject_key', '=', filter.subjectKey);
    const rows = await query
      .orderBy('due_at')
      .orderBy('request_id')
      .limit(filter.limit ?? 1000)
      .execute();
    return rows.map(requestDeadlineFromRow);
  }

  async saveIdempotentResponse(
    record: IdempotencyRecord,
  ): Promise<{ inserted: boolean; record: IdempotencyRecord }> {
    // The primary key decides between concurrent first uses of a key: one insert wins, the rest read it back.
    const result = await this.db
      .insertInto('idempotency_keys')
      .values({
        key: record.key,
        request_hash: record.requestHash,
        subject_key: record.subjectKey ?? null,
        response_status: record.status,
        response_body: JSON.stringify(record.body),
        created_at: toUtcIso(record.createdAt, 'createdAt'),
      })
      .onConflict((conflict) => conflict.column('key').doNothing())
      .executeTakeFirst();
    const inserted = Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    const stored = await this.getIdempotentResponse(record.key);
    if (!stored) throw new Error('an idempotency record vanished between its write and its read');
    return { inserted, record: stored };
  }

  async getIdempotentResponse(key: string): Promise<IdempotencyRecord | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      key: row.key,
      requestHash: row.request_hash,
      ...(row.subject_key ? { subjectKey: row.subject_key } : {}),
      status: Number(row.response_status),
      body: JSON.parse(row.response_body) as unknown,
      createdAt: row.created_at,
    };
  }

  async deleteIdempotentResponses(filter: {
    subjectKey?: string;
    createdBefore?: string;
    key?: string;
  }): Promise<number> {
    if (filter.subjectKey === undefined && filter.createdBefore === undefined && filter.key === undefined)
      return 0;
    let query = this.db.deleteFrom('idempotency_keys');
    if (filter.subjectKey !== undefined) query = query.where('subject_key', '=', filter.subjectKey);
    if (filter.key !== undefined) query = query.where('key', '=', filter.key);
    if (filter.createdBefore !== undefined)
      query = query.where('created_at', '<', toUtcIso(filter.createdBefore, 'createdBefore'));
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async saveSubjectDataKey(key: SubjectDataKeyRecord): Promise<void> {
    await this.db
      .insertInto('subject_data_keys')
      .values({
        key_id: key.keyId,
        subject_key: key.subjectKey,
        wrapped_key: key.wrappedKey ?? null,
        wrapping_key_id: key.wrappingKeyId ?? null,
        created_at: toUtcIso(key.createdAt, 'createdAt'),
        destroyed_at: key.destroyedAt === undefined ? null : toUtcIso(key.destroyedAt, 'destroyedAt'),
      })
      .execute();
  }

  async getSubjectDataKey(keyId: string): Promise<SubjectDataKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('subject_data_keys')
      .selectAll()
      .where('key_id', '=', keyId)
      .executeTakeFirst();
    return row ? subjectDataKeyFromRow(row) : undefined;
  }

  async activeSubjectDataKey(subjectKey: string): Promise<SubjectDataKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('subject_data_keys')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .where('wrapped_key', 'is not', null)
      .orderBy('created_at', 'desc')
      .orderBy('key_id')
      .executeTakeFirst();
    return row ? subjectDataKeyFromRow(row) : undefined;
  }

  async destroySubjectDataKeys(subjectKey: string, at: string, createdBefore?: string): Promise<number> {
    let query = this.db
      .updateTable('subject_data_keys')
      .set({ wrapped_key: null, wrapping_key_id: null, destroyed_at: toUtcIso(at, 'destroyedAt') })
      .where('subject_key', '=', subjectKey)
      .where('wrapped_key', 'is not', null);
    if (createdBefore !== undefined)
      query = query.where('created_at', '<=', toUtcIso(createdBefore, 'createdBefore'));
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async placeHold(
    hold: Omit<LegalHold, 'releasedAt' | 'releasedBy' | 'releaseReason'>,
  ): Promise<{ placed: boolean; hold: LegalHold }> {
    const values = {
      subject_key: hold.subjectKey,
      reason: hold.reason,
      placed_by: hold.placedBy,
      placed_at: toUtcIso(hold.placedAt, 'placedAt'),
      released_at: null,
      released_by: null,
      release_reason: null,
    };
    // One statement: a hold in force is never overwritten (a second `hold` keeps the first reason and time),
    // a released one is replaced.
    // The history row goes in the same transaction, so a hold is never in force without its record.
    const placed = await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('legal_holds')
        .values(values)
        .onConflict((conflict) =>
          conflict.column('subject_key').doUpdateSet(values).where('legal_holds.released_at', 'is not', null),
        )
        .executeTakeFirst();
      const placed = Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
      if (placed)
        await trx
          .insertInto('legal_hold_history')
          .values(values)
          .onConflict((conflict) => conflict.columns(['subject_key', 'placed_at']).doNothing())
          .execute();
      return placed;
    });
    const stored = await this.getHold(hold.subjectKey);
    if (!stored) throw new Error('the hold just written is not in the ledger');
    return { placed, hold: stored };
  }

  async releaseHold(release: {
    subjectKey: string;
    releasedAt: string;
    releasedBy: string;
    releaseReason: NonNullable<LegalHold['releaseReason']>;
  }): Promise<LegalHold | undefined> {
    const released = {
      released_at: toUtcIso(release.releasedAt, 'releasedAt'),
      released_by: release.releasedBy,
      release_reason: release.releaseReason,
    };
    const done = await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('legal_holds')
        .set(released)
        .where('subject_key', '=', release.subjectKey)
        .where('released_at', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await trx
        .updateTable('legal_hold_history')
        .set(released)
        .where('subject_key', '=', release.subjectKey)
        .where('released_at', 'is', null)
        .execute();
      return true;
    });
    return done ? this.getHold(release.subjectKey) : undefined;
  }

  async listHolds(subjectKey: string): Promise<LegalHold[]> {
    const rows = await this.db
      .selectFrom('legal_hold_history')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .orderBy('placed_at')
      .execute();
    return rows.map(legalHoldFromRow);
  }

  async getHold(subjectKey: string): Promise<LegalHold | undefined> {
    const row = await this.db
      .selectFrom('legal_holds')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .executeTakeFirst();
    return row ? legalHoldFromRow(row) : undefined;
  }

  async recordRestriction(receipt: RestrictionReceipt): Promise<void> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('restriction_receipts')
      .values({
        request_id: receipt.requestId,
        subject_key: receipt.subjectKey,
        restricted_at: toUtcIso(receipt.restrictedAt, 'restrictedAt'),
        receipt: JSON.stringify(receipt),
        updated_at: now,
      })
      .onConflict((conflict) =>
        conflict.column('request_id').doUpdateSet((eb) => ({
          receipt: eb.ref('excluded.receipt'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  async recordAccessReceipt(receipt: AccessReceipt): Promise<void> {
    await this.db
      .insertInto('access_receipts')
      .values({
        request_id: receipt.requestId,
        subject_key: receipt.subjectKey,
        completed_at: toUtcIso(receipt.completedAt, 'completedAt'),
        receipt: JSON.stringify(receipt),
      })
      .onConflict((conflict) =>
        conflict.column('request_id').doUpdateSet((eb) => ({ receipt: eb.ref('excluded.receipt') })),
      )
      .execute();
  }

  getAccessReceipt(requestId: string): Promise<AccessReceipt | undefined> {
    return this.receiptById('access_receipts', requestId);
  }

  async listAccessReceipts(subjectKey: string): Promise<AccessReceipt[]> {
    // Access receipts stay under the key they were made under (rekeySubject does not move them), so an
    // earlier key's count for the person it was re-keyed to only up to the re-key; after it, that address may
    // be someone else's (followSubjectLinks), whose receipts are theirs. Likewise a key's own receipts from
    // before it was re-keyed away are its former person's, listed under their key now.
    const { rows } = await sql<{ receipt: string }>`
      select receipt from (
      select a.receipt as receipt, a.completed_at as completed_at, a.request_id as request_id from access_receipts a
        left join subject_links away on away.from_key = a.subject_key
        where a.subject_key = ${subjectKey} and (away.linked_at is null or a.completed_at > away.linked_at)
      union all
      select a.receipt, a.completed_at, a.request_id from access_receipts a
        join subject_links l on l.from_key = a.subject_key
        where l.to_key = ${subjectKey} and l.from_key <> ${subjectKey} and a.completed_at <= l.linked_at
      ) listed order by completed_at, request_id`.execute(this.db);
    return rows.map((row) => JSON.parse(row.receipt) as AccessReceipt);
  }

  listRestrictions(subjectKey: string): Promise<RestrictionReceipt[]> {
    return this.receiptsUnder('restriction_receipts', [subjectKey]);
  }

  listRectifications(subjectKey: string): Promise<RectificationReceipt[]> {
    return this.receiptsUnder('rectification_receipts', [subjectKey]);
  }

  async listRectificationMoves(subjectKey: string): Promise<RectificationMoveRecord[]> {
    const keys = await this.keysLinkedTo(subjectKey);
    const rows = await this.db
      .selectFrom('rectification_moves')
      .selectAll()
      .where((eb) => eb.or([eb('subject_key', 'in', keys), eb('new_subject_key', 'in', keys)]))
      .orderBy('moved_at')
      .orderBy('system')
      .orderBy('record_key')
      .execute();
    return rows.map((row) => ({
      subjectKey: row.subject_key,
      newSubjectKey: row.new_subject_key,
      system: row.system,
      recordKey: row.record_key,
      requestId: row.request_id,
      movedAt: row.moved_at,
    }));
  }

  /** The receipt kept (as JSON) in `table` for the request; undefined if none. */
  private async receiptById<T extends ReceiptTable>(
    table: T,
    requestId: string,
  ): Promise<ReceiptIn[T] | undefined> {
    const row = await this.db
      .selectFrom(table as ReceiptTable)
      .select('receipt')
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.receipt) as ReceiptIn[T]) : undefined;
  }

  /** The receipts kept in `table` under any of `subjectKeys`, oldest first (then by request id). */
  private async receiptsUnder<T extends ReceiptTable>(
    table: T,
    subjectKeys: string[],
  ): Promise<ReceiptIn[T][]> {
    const rows = await this.db
      .selectFrom(table as ReceiptTable)
      .select('receipt')
      .where('subject_key', 'in', subjectKeys)
      .orderBy(receiptTimeColumn[table])
      .orderBy('request_id')
      .execute();
    return rows.map((row) => JSON.parse(row.receipt) as ReceiptIn[T]);
  }

  /** The key and every key a rectification re-keyed to it (subject_links points each at the latest key). */
  private async keysLinkedTo(subjectKey: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('subject_links')
      .select('from_key')
      .where('to_key', '=', subjectKey)
      .execute();
    return [subjectKey, ...rows.map((row) => row.from_key)];
  }

  async hasRestriction(subjectKey: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('restriction_receipts')
      .select('request_id')
      .where('subject_key', '=', subjectKey)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  getRestriction(requestId: string): Promise<RestrictionReceipt | undefined> {
    return this.receiptById('restriction_receipts', requestId);
  }

  async rekeySubject(link: {
    from: string;
    to: string;
    requestId: string;
    at: string;
  }): Promise<Record<string, number>> {
    const { from, to } = link;
    if (from === to) return {};
    return this.db.transaction().execute(async (trx) => {
      const moved: Record<string, number> = {};
      const count = (result: { numAffectedRows?: bigint }) => Number(result.numAffectedRows ?? 0n);
      // Tables keyed by subject (and system): a row the new key has already wins; the old one goes.
      for (const [table, also] of [
        ['tombstones', []],
        ['tombstone_systems', ['system']],
        ['erasure_follow_ups', ['system']],
        ['consent_system_states', ['system']],
        ['legal_holds', []],
        ['legal_hold_history', ['placed_at']],
      ] as const) {
        const same = also.map(
          (column) => sql` and o.${sql.ref(column)} = ${sql.table(table)}.${sql.ref(column)}`,
        );
        moved[table] = count(
          await sql`update ${sql.table(table)} set subject_key = ${to}
            where subject_key = ${from}
            and not exists (select 1 from ${sql.table(table)} o where o.subject_key = ${to}${sql.join(same, sql``)})`.execute(
            trx,
          ),
        );
        await sql`delete from ${sql.table(table)} where subject_key = ${from}`.execute(trx);
      }
      for (const table of [
        'consent_events',
        'consent_outcomes',
        'erasure_receipts',
        'restriction_receipts',
        'rectification_receipts',
        'request_deadlines',
        'idempotency_keys',
        'subject_data_keys',
        'address_change_refusals',
      ] as const) {
        moved[table] = count(
          await sql`update ${sql.table(table)} set subject_key = ${to} where subject_key = ${from}`.execute(
            trx,
          ),
        );
      }
      // Earlier links that pointed at the old key now point at the new one.
      await sql`update subject_links set to_key = ${to} where to_key = ${from}`.execute(trx);
      await trx
        .insertInto('subject_links')
        .values({
          from_key: from,
          to_key: to,
          request_id: link.requestId,
          linked_at: toUtcIso(link.at, 'at'),
        })
        .onConflict((conflict) => conflict.column('from_key').doNothing())
        .execute();
      return moved;
    });
  }

  async subjectKeyInUse(subjectKey: string): Promise<boolean> {
    const probes = subjectKeyedTables.map(
      (table) => sql`select 1 as found from ${sql.table(table)} where subject_key = ${subjectKey}`,
    );
    const { rows } = await sql<{ found: number }>`${sql.join(probes, sql` union all `)} limit 1`.execute(
      this.db,
    );
    return rows.length > 0;
  }

  async subjectKeyRecordedSince(subjectKey: string, since: string): Promise<boolean> {
    const after = toUtcIso(since, 'since');
    const probes = [
      ...subjectKeyedTables
        .filter((table) => table !== 'idempotency_keys')
        .map((table) => sql`select 1 as found from ${sql.table(table)} where subject_key = ${subjectKey}`),
      sql`select 1 as found from access_receipts where subject_key = ${subjectKey} and completed_at > ${after}`,
      sql`select 1 as found from subject_links where to_key = ${subjectKey} and linked_at > ${after}`,
    ];
    const { rows } = await sql<{ found: number }>`${sql.join(probes, sql` union all `)} limit 1`.execute(
      this.db,
    );
    return rows.length > 0;
  }

  async getSubjectLink(from: string) {
    const row = await this.db
      .selectFrom('subject_links')
      .selectAll()
      .where('from_key', '=', from)
      .executeTakeFirst();
    return row ? { to: row.to_key, requestId: row.request_id, linkedAt: row.linked_at } : undefined;
  }

  async listSubjectLinksTo(to: string) {
    const rows = await this.db
      .selectFrom('subject_links')
      .selectAll()
      .where('to_key', '=', to)
      .orderBy('linked_at')
      .orderBy('from_key')
      .execute();
    return rows
      .filter((row) => row.from_key !== to)
      .map((row) => ({ from: row.from_key, requestId: row.request_id, linkedAt: row.linked_at }));
  }

  async listRectificationMovePairs(subjectKey: string) {
    const rows = await this.db
      .selectFrom('rectification_moves')
      .select(['subject_key', 'new_subject_key', 'request_id', 'system'])
      .where((where) =>
        where.or([where('subject_key', '=', subjectKey), where('new_subject_key', '=', subjectKey)]),
      )
      .groupBy(['subject_key', 'new_subject_key', 'request_id', 'system'])
      .orderBy('request_id')
      .orderBy('system')
      .execute();
    const byRequest = new Map<
      string,
      { subjectKey: string; newSubjectKey: string; requestId: string; systems: string[] }
    >();
    for (const row of rows) {
      const id = `${row.request_id}\u0000${row.subject_key}\u0000${row.new_subject_key}`;
      const entry = byRequest.get(id) ?? {
        subjectKey: row.subject_key,
        newSubjectKey: row.new_subject_key,
        requestId: row.request_id,
        systems: [],
      };
      entry.systems.push(row.system);
      byRequest.set(id, entry);
    }
    return [...byRequest.values()];
  }

  async recordRectificationMoves(moves: {
    subjectKey: string;
    newSubjectKey: string;
    system: string;
    recordKeys: string[];
    requestId: string;
    at: string;
  }): Promise<void> {
    for (const chunk of chunks([...new Set(moves.recordKeys)], writeChunk)) {
      if (chunk.length === 0) continue;
      await this.db
        .insertInto('rectification_moves')
        .values(
          chunk.map((recordKey) => ({
            subject_key: moves.subjectKey,
            new_subject_key: moves.newSubjectKey,
            system: moves.system,
            record_key: recordKey,
            request_id: moves.requestId,
            moved_at: toUtcIso(moves.at, 'at'),
          })),
        )
        .onConflict((conflict) =>
          conflict.columns(['subject_key', 'new_subject_key', 'system', 'record_key']).doNothing(),
        )
        .execute();
    }
  }

  async findRectificationMoves(query: {
    subjectKey: string;
    newSubjectKey: string;
    system: string;
    recordKeys: string[];
  }): Promise<string[]> {
    const found: string[] = [];
    for (const chunk of chunks([...new Set(query.recordKeys)], writeChunk)) {
      if (chunk.length === 0) continue;
      const rows = await this.db
        .selectFrom('rectification_moves')
        .select('record_key')
        .where('subject_key', '=', query.subjectKey)
        .where('new_subject_key', '=', query.newSubjectKey)
        .where('system', '=', query.system)
        .where('record_key', 'in', chunk)
        .execute();
      found.push(...rows.map((row) => row.record_key));
    }
    return found;
  }

  async recordRectification(receipt: RectificationReceipt): Promise<void> {
    await this.db
      .insertInto('rectification_receipts')
      .values({
        request_id: receipt.requestId,
        subject_key: receipt.rekeyed?.to ?? receipt.subjectKey,
        completed_at: toUtcIso(receipt.completedAt, 'completedAt'),
        receipt: JSON.stringify(receipt),
      })
      .onConflict((conflict) => conflict.column('request_id').doNothing())
      .execute();
  }

  getRectification(requestId: string): Promise<RectificationReceipt | undefined> {
    return this.receiptById('rectification_receipts', requestId);
  }

  async recordAddressChangeRefusal(
    refusal: Omit<AddressChangeRefusal, 'resolvedAt' | 'resolvedBy' | 'resolution'>,
  ): Promise<void> {
    await this.db
      .insertInto('address_change_refusals')
      .values({
        id: refusal.id,
        subject_key: refusal.subjectKey,
        new_subject_key: refusal.newSubjectKey,
        source: refusal.source,
        reason: refusal.reason,
        request_id: refusal.requestId ?? null,
        recorded_at: toUtcIso(refusal.recordedAt, 'recordedAt'),
        resolved_at: null,
        resolved_by: null,
        resolution: null,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
  }

  async listAddressChangeRefusals(query: {
    subjectKey?: string;
    open?: boolean;
    limit?: number;
  }): Promise<AddressChangeRefusal[]> {
    let select = this.db.selectFrom('address_change_refusals').selectAll();
    const { subjectKey } = query;
    if (subjectKey !== undefined)
      select = select.where((eb) =>
        eb.or([eb('subject_key', '=', subjectKey), eb('new_subject_key', '=', subjectKey)]),
      );
    if (query.open) select = select.where('resolved_at', 'is', null);
    if (query.limit !== undefined) select = select.limit(query.limit);
    const rows = await select.orderBy('recorded_at').orderBy('id').execute();
    return rows.map(addressChangeRefusalFromRow);
  }

  async getAddressChangeRefusal(id: string): Promise<AddressChangeRefusal | undefined> {
    const row = await this.db
      .selectFrom('address_change_refusals')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? addressChangeRefusalFromRow(row) : undefined;
  }

  async resolveAddressChangeRefusal(resolution: {
    id: string;
    resolvedAt: string;
    resolvedBy: string;
    resolution: AddressChangeResolution;
  }): Promise<AddressChangeRefusal | undefined> {
    // Only an open one: the first acknowledgement stands, so two operators cannot overwrite each other.
    await this.db
      .updateTable('address_change_refusals')
      .set({
        resolved_at: toUtcIso(resolution.resolvedAt, 'resolvedAt'),
        resolved_by: resolution.resolvedBy,
        resolution: resolution.resolution,
      })
      .where('id', '=', resolution.id)
      .where('resolved_at', 'is', null)
      .execute();
    return this.getAddressChangeRefusal(resolution.id);
  }

  /** Safe to call twice: pg's Pool refuses a second `end()`. */
  close(): Promise<void> {
    this.closing ??= this.db.destroy();
    return this.closing;
  }
}

function legalHoldFromRow(row: LegalHoldsTable): LegalHold {
  return {
    subjectKey: row.subject_key,
    reason: row.reason as LegalHold['reason'],
    placedBy: row.placed_by,
    placedAt: row.placed_at,
    ...(row.released_at === null ? {} : { releasedAt: row.released_at }),
    ...(row.released_by === null ? {} : { releasedBy: row.released_by }),
    ...(row.release_reason === null
      ? {}
      : { releaseReason: row.release_reason as NonNullable<LegalHold['releaseReason']> }),
  };
}

function subjectDataKeyFromRow(row: SubjectDataKeysTable): SubjectDataKeyRecord {
  return {
    keyId: row.key_id,
    subjectKey: row.subject_key,
    ...(row.wrapped_key === null ? {} : { wrappedKey: row.wrapped_key }),
    ...(row.wrapping_key_id === null ? {} : { wrappingKeyId: row.wrapping_key_id }),
    createdAt: row.created_at,
    ...(row.destroyed_at === null ? {} : { destroyedAt: row.destroyed_at }),
  };
}

/** Every table with a person's rows under their subject key: what rekeySubject moves. */
const subjectKeyedTables = [
  'tombstones',
  'tombstone_systems',
  'erasure_follow_ups',
  'consent_system_states',
  'legal_holds',
  'legal_hold_history',
  'consent_events',
  'consent_outcomes',
  'erasure_receipts',
  'restriction_receipts',
  'rectification_receipts',
  'request_deadlines',
  'idempotency_keys',
  'subject_data_keys',
  'address_change_refusals',
] as const;

/** Rows per insert: well under SQLite's 32,766 bound variables at eight columns a row. */
const writeChunk = 500;

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}

function recordRow(requestId: string, system: SystemName, record: ErasureRecordEntry, now: string) {
  return {
    request_id: requestId,
    system,
    kind: record.kind,
    record_id: record.id,
    container: record.container ?? '',
    result: record.result,
    vendor_time: record.vendorTime ?? null,
    updated_at: now,
    reason: record.reason ?? null,
    vendor_status: record.httpStatus ?? null,
  };
}

function consentEventFromRow(row: ConsentEventsTable): ConsentEvent {
  return consentEventSchema.parse({
    id: row.id,
    subjectKey: row.subject_key,
    purpose: row.purpose,
    decision: row.decision,
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
    source: row.source,
    evidence: JSON.parse(row.evidence),
  });
}

function requestDeadlineFromRow(row: RequestDeadlinesTable): RequestDeadline {
  return {
    requestId: row.request_id,
    kind: row.kind as RequestKind,
    subjectKey: row.subject_key,
    receivedAt: row.received_at,
    dueAt: row.due_at,
    extendedMonths: Number(row.extended_months),
    ...(row.completed_at === null ? {} : { completedAt: row.completed_at }),
  };
}

function addressChangeRefusalFromRow(row: AddressChangeRefusalsTable): AddressChangeRefusal {
  return {
    id: row.id,
    subjectKey: row.subject_key,
    newSubjectKey: row.new_subject_key,
    source: row.source,
    reason: row.reason as AddressChangeRefusalReason,
    ...(row.request_id === null ? {} : { requestId: row.request_id }),
    recordedAt: row.recorded_at,
    ...(row.resolved_at === null ? {} : { resolvedAt: row.resolved_at }),
    ...(row.resolved_by === null ? {} : { resolvedBy: row.resolved_by }),
    ...(row.resolution === null ? {} : { resolution: row.resolution as AddressChangeResolution }),
  };
}
