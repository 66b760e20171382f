/**
 * The ledger's tables as Kysely sees them. Times are UTC ISO-8601 text (`Date#toISOString()`), the same on
 * both backends, so they sort and compare as strings. JSON is text too: a receipt comes back byte for byte
 * as the workflow produced it, which PostgreSQL's jsonb (it reorders keys) would not promise.
 */
export interface LedgerDatabase {
  access_receipts: AccessReceiptsTable;
  consent_events: ConsentEventsTable;
  erasure_receipts: ErasureReceiptsTable;
  tombstones: TombstonesTable;
  tombstone_systems: TombstoneSystemsTable;
  watermarks: WatermarksTable;
  reconciliation_runs: ReconciliationRunsTable;
  consent_outcomes: ConsentOutcomesTable;
  idempotency_keys: IdempotencyKeysTable;
  subject_data_keys: SubjectDataKeysTable;
  operator_actions: OperatorActionsTable;
  erasure_records: ErasureRecordsTable;
  erasure_harvested_ids: ErasureHarvestedIdsTable;
  google_submissions: GoogleSubmissionsTable;
  erasure_follow_ups: ErasureFollowUpsTable;
  consent_system_states: ConsentSystemStatesTable;
  request_deadlines: RequestDeadlinesTable;
  legal_holds: LegalHoldsTable;
  legal_hold_history: LegalHoldsTable;
  subject_links: SubjectLinksTable;
  rectification_moves: RectificationMovesTable;
  rectification_receipts: RectificationReceiptsTable;
  restriction_receipts: RestrictionReceiptsTable;
  console_sessions: ConsoleSessionsTable;
  address_change_refusals: AddressChangeRefusalsTable;
}

/** A signed-in console operator; deleted on sign-out, and ignored (then deleted) once expired. */
export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session cookie's 32-byte random token: a stolen table signs nobody in. */
  token_hash: string;
  /** The API key's name (`keyId`), recorded as the operator of every action in the session. */
  key_id: string;
  created_at: string;
  expires_at: string;
}

/** A subject's data key, wrapped (AES-256-GCM) by a master key; `wrapped_key` is null once destroyed. */
export interface SubjectDataKeysTable {
  key_id: string;
  subject_key: string;
  /** base64 of iv, ciphertext and tag; null after the subject's erasure destroyed it. */
  wrapped_key: string | null;
  /** The master key (CONSENT_HUB_ENCRYPTION_KEYS id) that wrapped it. */
  wrapping_key_id: string | null;
  created_at: string;
  destroyed_at: string | null;
}

/** One operator action on a request; appended, never updated. */
export interface OperatorActionsTable {
  /** Chosen by the writer, so a retried write is a no-op. */
  id: string;
  request_id: string;
  /** `erasure`, `consent`, ... */
  request_kind: string;
  action: string;
  system: string;
  operator: string;
  reason: string | null;
  at: string;
}

/** One page of GA client ids an erasure harvested, sealed with the subject's data key (migration 0014). */
export interface ErasureHarvestedIdsTable {
  request_id: string;
  page: number;
  id_count: number;
  /** privacy/sealed-identifiers.ts: `CHX2`, the data key's id, IV, tag and the sealed JSON list, in base64. */
  sealed: string;
  /** When Google accepted every deletion of the page; null until then. */
  submitted_at: string | null;
}

/** One Google user deletion a consent lane got accepted (migration 0015); keyed ids only. */
export interface GoogleSubmissionsTable {
  /** `consent/<subject key>/<event id of the statistics withdrawal>`. */
  scope: string;
  /** `<kind>|<property>|<keyed id>`. */
  record_key: string;
  vendor_time: string | null;
  submitted_at: string;
}

/** One record an erasure found (`planned`) and then deleted, found gone, or submitted for deletion. */
export interface ErasureRecordsTable {
  request_id: string;
  system: string;
  kind: string;
  record_id: string;
  /** '' when the vendor has no container for the record (Dynamics). */
  container: string;
  result: string;
  vendor_time: string | null;
  updated_at: string;
  /** A `NotDeletedReason` (migration 0012); null for a record deleted, gone or submitted. */
  reason: string | null;
  /** The vendor's HTTP status of a refusal (migration 0012). */
  vendor_status: number | null;
}

/** A system an erasure did not reach, until a later erasure of the same subject does. */
export interface ErasureFollowUpsTable {
  subject_key: string;
  system: string;
  /** The erasure that left it open. */
  request_id: string;
  /** How it ended there: `failed` or `closed_by_operator`. */
  status: string;
  since: string;
}

/** The consent state the hub last wrote to one system for one subject; one row, replaced on each write. */
export interface ConsentSystemStatesTable {
  subject_key: string;
  system: string;
  outcome: string;
  reason: string | null;
  /** JSON: field name → the value written (`donotbulkemail` → `true`, `membership:<list>` → `unsubscribed`). */
  fields: string;
  /** JSON: purpose → { eventId, outcome } for the decisions in force the state was computed from. */
  purposes: string;
  written_at: string;
}

/** The first answer given for an idempotency key; written once, never updated. */
export interface IdempotencyKeysTable {
  key: string;
  /** HMAC-SHA256 hex (under a hub key) of the request that first used the key; older rows: SHA-256. */
  request_hash: string;
  /** The subject the request was about, so an erasure deletes the record; null when not about one person. */
  subject_key: string | null;
  response_status: number;
  /** JSON: the response body exactly as first sent. */
  response_body: string;
  created_at: string;
}

export interface ConsentOutcomesTable {
  event_id: string;
  system: string;
  subject_key: string;
  outcome: string;
  reason: string | null;
  recorded_at: string;
}

export interface ConsentEventsTable {
  id: string;
  subject_key: string;
  purpose: string;
  decision: string;
  occurred_at: string;
  recorded_at: string;
  source: string;
  /** JSON: ConsentEvidence. */
  evidence: string;
}

export interface ErasureReceiptsTable {
  request_id: string;
  subject_key: string;
  completed_at: string;
  outcome: string;
  /** JSON: the ErasureReceipt exactly as written. */
  receipt: string;
  /** When the ledger stored it, for audits of the ledger itself. */
  stored_at: string;
}

export interface TombstonesTable {
  subject_key: string;
  erased_at: string;
  first_request_id: string;
  last_request_id: string;
  updated_at: string;
}

/** One row per system an erasure reached; a later erasure adds rows, so the set is a union by construction. */
export interface TombstoneSystemsTable {
  subject_key: string;
  system: string;
}

export interface WatermarksTable {
  system: string;
  value: string;
  updated_at: string;
}

export interface ReconciliationRunsTable {
  run_id: string;
  started_at: string;
  finished_at: string | null;
  /** JSON: the run's summary. */
  summary: string;
}

/** One request of a person (erasure, consent change, access ...) and its GDPR deadline (Art. 12(3)). */
export interface RequestDeadlinesTable {
  request_id: string;
  /** `erasure`, `consent`, `access`, ... (domain/request-deadline.ts). */
  kind: string;
  subject_key: string;
  received_at: string;
  /** received_at + 1 + extended_months calendar months. */
  due_at: string;
  extended_months: number;
  /** Null while the request is open. */
  completed_at: string | null;
  registered_at: string;
}

/**
 * A person on hold (or released): codes and operator ids only; one row per subject key in `legal_holds` (the
 * latest hold), one per hold (subject key and placed_at) in `legal_hold_history`.
 */
export interface LegalHoldsTable {
  subject_key: string;
  reason: string;
  placed_by: string;
  placed_at: string;
  released_at: string | null;
  released_by: string | null;
  release_reason: string | null;
}

/** A held person's erasure's restriction receipt, per request; updated when the hold is released. */
export interface RestrictionReceiptsTable {
  request_id: string;
  subject_key: string;
  restricted_at: string;
  /** JSON: the RestrictionReceipt. */
  receipt: string;
  updated_at: string;
}

/** An email change: the person's rows moved from `from_key` to `to_key` (rectification). */
export interface SubjectLinksTable {
  from_key: string;
  to_key: string;
  request_id: string;
  linked_at: string;
}

/**
 * A record a rectification wrote at the new address (issue 18), as a keyed hash of the record's reference
 * (activities/rectification-activities.ts): a later rectification of the same person to the same address
 * counts it as theirs, not as a conflict, though the ledger was not re-keyed (a system failed).
 */
export interface RectificationMovesTable {
  subject_key: string;
  new_subject_key: string;
  system: string;
  record_key: string;
  request_id: string;
  moved_at: string;
}

/** A rectification's receipt: field names, systems and before-hashes; no value. */
export interface RectificationReceiptsTable {
  request_id: string;
  subject_key: string;
  completed_at: string;
  /** JSON: the RectificationReceipt. */
  receipt: string;
}

/** An access request's receipt, by request id; no personal data in it (counts, systems, times, export digest). */
export interface AccessReceiptsTable {
  request_id: string;
  subject_key: string;
  completed_at: string;
  /** JSON: the AccessReceipt. */
  receipt: string;
}

/** A vendor's address change the hub refused (issue 18): keys and codes only, open until acknowledged. */
export interface AddressChangeRefusalsTable {
  id: string;
  subject_key: string;
  new_subject_key: string;
  source: string;
  reason: string;
  request_id: string | null;
  recorded_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
  resolution: string | null;
}
