import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * Versioned migrations, in code so that they ship inside the package and need no folder at run time.
 * Each one types its `db` as `Kysely<unknown>`: a migration must keep working when the current schema types
 * have moved on. Append new ones; never edit one that has shipped.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('consent_events')
        .addColumn('id', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('purpose', 'varchar(100)', (col) => col.notNull())
        .addColumn('decision', 'varchar(50)', (col) => col.notNull())
        .addColumn('occurred_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('recorded_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('source', 'varchar(200)', (col) => col.notNull())
        .addColumn('evidence', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('consent_events_subject_key')
        .on('consent_events')
        .columns(['subject_key', 'occurred_at', 'recorded_at'])
        .execute();

      await db.schema
        .createTable('erasure_receipts')
        .addColumn('request_id', 'varchar(200)', (col) => col.primaryKey())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('completed_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('outcome', 'varchar(50)', (col) => col.notNull())
        .addColumn('receipt', 'text', (col) => col.notNull())
        .addColumn('stored_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('erasure_receipts_subject_key')
        .on('erasure_receipts')
        .column('subject_key')
        .execute();
      await db.schema
        .createIndex('erasure_receipts_completed_at')
        .on('erasure_receipts')
        .column('completed_at')
        .execute();

      await db.schema
        .createTable('tombstones')
        .addColumn('subject_key', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('erased_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('first_request_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('last_request_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('tombstone_systems')
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addPrimaryKeyConstraint('tombstone_systems_pk', ['subject_key', 'system'])
        .execute();

      await db.schema
        .createTable('watermarks')
        .addColumn('system', 'varchar(50)', (col) => col.primaryKey())
        .addColumn('value', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(40)', (col) => col.notNull())
        .execute();

      await db.schema
        .createTable('reconciliation_runs')
        .addColumn('run_id', 'varchar(200)', (col) => col.primaryKey())
        .addColumn('started_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('finished_at', 'varchar(40)')
        .addColumn('summary', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('reconciliation_runs_started_at')
        .on('reconciliation_runs')
        .column('started_at')
        .execute();
    },
  },
  '0002_consent_outcomes': {
    async up(db: Kysely<unknown>) {
      // What each system answered when a consent change was carried to it; one row per event and system.
      await db.schema
        .createTable('consent_outcomes')
        .addColumn('event_id', 'varchar(64)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('outcome', 'varchar(50)', (col) => col.notNull())
        .addColumn('reason', 'text')
        .addColumn('recorded_at', 'varchar(40)', (col) => col.notNull())
        .addPrimaryKeyConstraint('consent_outcomes_pk', ['event_id', 'system'])
        .execute();
      await db.schema
        .createIndex('consent_outcomes_subject_key')
        .on('consent_outcomes')
        .column('subject_key')
        .execute();
    },
  },
  '0003_idempotency_keys': {
    async up(db: Kysely<unknown>) {
      // The first answer the API gave for an Idempotency-Key (or a webhook delivery), so a retry replays it.
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('key', 'varchar(300)', (col) => col.primaryKey())
        .addColumn('request_hash', 'varchar(64)', (col) => col.notNull())
        .addColumn('response_status', 'integer', (col) => col.notNull())
        .addColumn('response_body', 'text', (col) => col.notNull())
        .addColumn('created_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      // For a later clean-up of old keys by age.
      await db.schema
        .createIndex('idempotency_keys_created_at')
        .on('idempotency_keys')
        .column('created_at')
        .execute();
    },
  },
  '0004_privacy_subject_keys': {
    async up(db: Kysely<unknown>) {
      // Idempotency records name their subject, so an erasure deletes them with the rest.
      await db.schema.alterTable('idempotency_keys').addColumn('subject_key', 'varchar(64)').execute();
      await db.schema
        .createIndex('idempotency_keys_subject_key')
        .on('idempotency_keys')
        .column('subject_key')
        .execute();
      // Per-subject data keys for crypto-shredding: wrapped by a master key, destroyed (wrapped key set to
      // null) when the subject's erasure completes. The row stays, so a payload names a key that is gone.
      await db.schema
        .createTable('subject_data_keys')
        .addColumn('key_id', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('wrapped_key', 'text')
        .addColumn('wrapping_key_id', 'varchar(64)')
        .addColumn('created_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('destroyed_at', 'varchar(40)')
        .execute();
      await db.schema
        .createIndex('subject_data_keys_subject_key')
        .on('subject_data_keys')
        .column('subject_key')
        .execute();
    },
  },
  '0005_operator_actions': {
    async up(db: Kysely<unknown>) {
      // Every operator action on a request (retry, close), with who and when: the request's log.
      await db.schema
        .createTable('operator_actions')
        .addColumn('id', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('request_kind', 'varchar(50)', (col) => col.notNull())
        .addColumn('action', 'varchar(50)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addColumn('operator', 'varchar(200)', (col) => col.notNull())
        .addColumn('reason', 'text')
        .addColumn('at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('operator_actions_request_id')
        .on('operator_actions')
        .columns(['request_id', 'at'])
        .execute();
    },
  },
  '0006_erasure_records': {
    async up(db: Kysely<unknown>) {
      // Every record an erasure found and what became of it, written by the activities page by page, so
      // that a receipt can name 25,000 rows without any of them passing through the workflow's history.
      await db.schema
        .createTable('erasure_records')
        .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addColumn('kind', 'varchar(100)', (col) => col.notNull())
        .addColumn('record_id', 'varchar(300)', (col) => col.notNull())
        .addColumn('container', 'varchar(300)', (col) => col.notNull())
        .addColumn('result', 'varchar(50)', (col) => col.notNull())
        .addColumn('vendor_time', 'varchar(40)')
        .addColumn('updated_at', 'varchar(40)', (col) => col.notNull())
        .addPrimaryKeyConstraint('erasure_records_pk', [
          'request_id',
          'system',
          'kind',
          'container',
          'record_id',
        ])
        .execute();
      await db.schema
        .createIndex('erasure_records_result')
        .on('erasure_records')
        .columns(['request_id', 'system', 'result'])
        .execute();
      // Systems an erasure did not reach (failed, closed by an operator): the subject needs a follow-up
      // until a later erasure or reconciliation reaches them. One row per subject and system.
      await db.schema
        .createTable('erasure_follow_ups')
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('status', 'varchar(50)', (col) => col.notNull())
        .addColumn('since', 'varchar(40)', (col) => col.notNull())
        .addPrimaryKeyConstraint('erasure_follow_ups_pk', ['subject_key', 'system'])
        .execute();
    },
  },
  '0007_consent_system_states': {
    async up(db: Kysely<unknown>) {
      // Per subject and system, the consent state the hub last wrote there (or why it could not), so that
      // status shows the truth and reconciliation finds withdrawals that failed.
      await db.schema
        .createTable('consent_system_states')
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('system', 'varchar(50)', (col) => col.notNull())
        .addColumn('outcome', 'varchar(50)', (col) => col.notNull())
        .addColumn('reason', 'text')
        .addColumn('fields', 'text', (col) => col.notNull())
        .addColumn('purposes', 'text', (col) => col.notNull())
        .addColumn('written_at', 'varchar(40)', (col) => col.notNull())
        .addPrimaryKeyConstraint('consent_system_states_pk', ['subject_key', 'system'])
        .execute();
      await db.schema
        .createIndex('consent_system_states_outcome')
        .on('consent_system_states')
        .columns(['system', 'outcome'])
        .execute();
    },
  },
  '0008_request_deadlines': {
    async up(db: Kysely<unknown>) {
      // Every request of a person with when it was received and when it is due (GDPR Art. 12(3)), whatever
      // its kind, so that overdue requests are one indexed query, long after Temporal forgot the workflow.
      await db.schema
        .createTable('request_deadlines')
        .addColumn('request_id', 'varchar(200)', (col) => col.primaryKey())
        .addColumn('kind', 'varchar(50)', (col) => col.notNull())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('received_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('due_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('extended_months', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('completed_at', 'varchar(40)')
        .addColumn('registered_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('request_deadlines_open_due')
        .on('request_deadlines')
        .columns(['completed_at', 'due_at'])
        .execute();
      await db.schema.createIndex('request_deadlines_subject_key').on('request_deadlines');
    },
  },
  '0009_legal_holds': {
    async up(db: Kysely<unknown>) {
      // One row per person on hold (Art. 17(3), Art. 18): codes and operator ids, never an address.
      await db.schema
        .createTable('legal_holds')
        .addColumn('subject_key', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('reason', 'varchar(100)', (col) => col.notNull())
        .addColumn('placed_by', 'varchar(200)', (col) => col.notNull())
        .addColumn('placed_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('released_at', 'varchar(40)')
        .addColumn('released_by', 'varchar(200)')
        .addColumn('release_reason', 'varchar(100)')
        .execute();
      // What a held person's erasure restricted instead of deleting, per request; updated on release.
      await db.schema
        .createTable('restriction_receipts')
        .addColumn('request_id', 'varchar(200)', (col) => col.primaryKey())
        .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
        .addColumn('restricted_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('receipt', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('restriction_receipts_subject_key')
        .on('restriction_receipts')
        .column('subject_key')
        .execute();
    },
  },
  '0010_console_sessions': {
    async up(db: Kysely<unknown>) {
      // Operator console sessions: the SHA-256 of the cookie's random token (never the token or the API
      // key), the API key's name, and when it ends. Kept in the ledger so an API restart signs nobody out.
      await db.schema
        .createTable('console_sessions')
        .addColumn('token_hash', 'varchar(64)', (col) => col.primaryKey())
        .addColumn('key_id', 'varchar(200)', (col) => col.notNull())
        .addColumn('created_at', 'varchar(40)', (col) => col.notNull())
        .addColumn('expires_at', 'varchar(40)', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('console_sessions_expires_at')
        .on('console_sessions')
        .column('expires_at')
        .execute();
    },
  },
};

const rectificationMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // An email change re-keys the person: every row moves to the new key, and this link says from where.
    await db.schema
      .createTable('subject_links')
      .addColumn('from_key', 'varchar(64)', (col) => col.primaryKey())
      .addColumn('to_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
      .addColumn('linked_at', 'varchar(40)', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('subject_links_to_key').on('subject_links').column('to_key').execute();
    await db.schema
      .createTable('rectification_receipts')
      .addColumn('request_id', 'varchar(200)', (col) => col.primaryKey())
      .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('completed_at', 'varchar(40)', (col) => col.notNull())
      .addColumn('receipt', 'text', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('rectification_receipts_subject_key')
      .on('rectification_receipts')
      .column('subject_key')
      .execute();
  },
};
migrations['0011_rectification'] = rectificationMigration;
migrations['0012_erasure_record_reasons'] = {
  async up(db: Kysely<unknown>) {
    // Why a planned record was not deleted (a vendor's refusal, a system closed or failed), so a receipt
    // names every record it planned with its outcome. Rows written before this have none: they were all
    // deleted, gone or submitted, or are still planned.
    await db.schema.alterTable('erasure_records').addColumn('reason', 'varchar(50)').execute();
    await db.schema.alterTable('erasure_records').addColumn('vendor_status', 'integer').execute();
  },
};

migrations['0013_access_receipts'] = {
  async up(db: Kysely<unknown>) {
    // An access request's receipt (counts per system and kind, times, the export's digest and sizes; no
    // personal data), kept after Temporal's retention has dropped the workflow.
    await db.schema
      .createTable('access_receipts')
      .addColumn('request_id', 'varchar(200)', (col) => col.primaryKey())
      .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('completed_at', 'varchar(40)', (col) => col.notNull())
      .addColumn('receipt', 'text', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('access_receipts_subject_key')
      .on('access_receipts')
      .column('subject_key')
      .execute();
  },
};

migrations['0014_erasure_harvested_ga_ids'] = {
  async up(db: Kysely<unknown>) {
    // GA client ids an erasure harvested from the CRM, in pages, each page sealed with the person's data
    // key (privacy/sealed-identifiers.ts): the workflow's history carries only their count, and the ids
    // become unreadable when the person's keys are destroyed. `submitted_at` marks a page Google accepted,
    // so a retried submission resumes after it.
    await db.schema
      .createTable('erasure_harvested_ids')
      .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
      .addColumn('page', 'integer', (col) => col.notNull())
      .addColumn('id_count', 'integer', (col) => col.notNull())
      .addColumn('sealed', 'text', (col) => col.notNull())
      .addColumn('submitted_at', 'varchar(40)')
      .addPrimaryKeyConstraint('erasure_harvested_ids_pk', ['request_id', 'page'])
      .execute();
  },
};

migrations['0015_google_submissions'] = {
  async up(db: Kysely<unknown>) {
    // Google user deletions a consent lane got accepted, per statistics withdrawal (`scope`), so a lane that
    // meets the daily quota goes on the next day where it stopped instead of from its first id. The record
    // key names the kind, property and a keyed id (privacy/keyed-id.ts), never the GA id itself.
    await db.schema
      .createTable('google_submissions')
      .addColumn('scope', 'varchar(300)', (col) => col.notNull())
      .addColumn('record_key', 'varchar(300)', (col) => col.notNull())
      .addColumn('vendor_time', 'varchar(40)')
      .addColumn('submitted_at', 'varchar(40)', (col) => col.notNull())
      .addPrimaryKeyConstraint('google_submissions_pk', ['scope', 'record_key'])
      .execute();
  },
};

migrations['0016_rectification_moves'] = {
  async up(db: Kysely<unknown>) {
    // Records a rectification wrote at the new address, keyed (no id, no address): a later rectification of
    // the same person to the same address after a half-done one finds them here as the person's own.
    await db.schema
      .createTable('rectification_moves')
      .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('new_subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('system', 'varchar(20)', (col) => col.notNull())
      .addColumn('record_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('request_id', 'varchar(200)', (col) => col.notNull())
      .addColumn('moved_at', 'varchar(40)', (col) => col.notNull())
      .addPrimaryKeyConstraint('rectification_moves_pk', [
        'subject_key',
        'new_subject_key',
        'system',
        'record_key',
      ])
      .execute();
  },
};

migrations['0017_legal_hold_history'] = {
  async up(db: Kysely<unknown>) {
    // Every hold a person had, one row per hold (legal_holds keeps only the latest, so a new hold overwrote a
    // released one and a hold that met no erasure left no trace). Codes and operator ids, never an address.
    await db.schema
      .createTable('legal_hold_history')
      .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('placed_at', 'varchar(40)', (col) => col.notNull())
      .addColumn('reason', 'varchar(100)', (col) => col.notNull())
      .addColumn('placed_by', 'varchar(200)', (col) => col.notNull())
      .addColumn('released_at', 'varchar(40)')
      .addColumn('released_by', 'varchar(200)')
      .addColumn('release_reason', 'varchar(100)')
      .addPrimaryKeyConstraint('legal_hold_history_pk', ['subject_key', 'placed_at'])
      .execute();
    await sql`insert into legal_hold_history
      (subject_key, placed_at, reason, placed_by, released_at, released_by, release_reason)
      select subject_key, placed_at, reason, placed_by, released_at, released_by, release_reason
      from legal_holds`.execute(db);
  },
};

migrations['0018_address_change_refusals'] = {
  async up(db: Kysely<unknown>) {
    // A vendor's address change the hub refused or could not carry out (issue 18): open until an operator
    // acknowledges it. Subject keys, codes and operator ids; never an address.
    await db.schema
      .createTable('address_change_refusals')
      .addColumn('id', 'varchar(200)', (col) => col.primaryKey())
      .addColumn('subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('new_subject_key', 'varchar(64)', (col) => col.notNull())
      .addColumn('source', 'varchar(100)', (col) => col.notNull())
      .addColumn('reason', 'varchar(50)', (col) => col.notNull())
      .addColumn('request_id', 'varchar(200)')
      .addColumn('recorded_at', 'varchar(40)', (col) => col.notNull())
      .addColumn('resolved_at', 'varchar(40)')
      .addColumn('resolved_by', 'varchar(200)')
      .addColumn('resolution', 'varchar(50)')
      .execute();
    await db.schema
      .createIndex('address_change_refusals_subject_key')
      .on('address_change_refusals')
      .column('subject_key')
      .execute();
    await db.schema
      .createIndex('address_change_refusals_open')
      .on('address_change_refusals')
      .columns(['resolved_at', 'recorded_at'])
      .execute();
  },
};

export const ledgerMigrations: MigrationProvider = {
  getMigrations: async () => migrations,
};

/** The newest migration's name: what a fully migrated ledger has applied last. */
export const latestMigration = Object.keys(migrations).sort().at(-1) as string;
