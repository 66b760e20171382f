import type { ConsentDecision, Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';

/**
 * The one shape every vendor connector has. A reader who knows one connector knows them all: find what a
 * tool holds about a person, erase it, and read or apply consent. Each method either resolves with an
 * outcome (including "already done", such as a 404 on delete) or throws a VendorError (connector-errors.ts)
 * that says whether retrying can help.
 */
/** How an erasure is narrowed: `skip` names, as `erase` names them, deletions not to send again. */
export interface EraseOptions {
  skip?: (record: VendorRecordRef) => boolean;
}

export interface Connector {
  readonly system: SystemName;
  find(subject: SubjectIdentifiers): Promise<FindResult>;
  /**
   * With `skip` (tools that submit one deletion per identifier and container, Google Analytics): deletions
   * it names are not sent, because the vendor accepted them before (one GA4 property of several, say).
   */
  erase(subject: SubjectIdentifiers, options?: EraseOptions): Promise<EraseResult>;
  /**
   * Deletes one record that `find` returned, for erasures that page through many records across activities.
   * `already_gone` (a 404) means the record no longer exists: deleted by an earlier attempt of the same
   * erasure or by someone else. Tools whose records cannot be found (Google Analytics) leave it out.
   */
  deleteRecord?(subject: SubjectIdentifiers, record: VendorRecordRef): Promise<'deleted' | 'already_gone'>;
  /**
   * For tools that cannot be searched, only told to delete (Google Analytics): the records `erase` will
   * submit for the subject, named as its answer names them, without any call. The erasure plans them first,
   * so a refused submission is still listed in the receipt (`not_deleted`).
   */
  plannedDeletions?(subject: SubjectIdentifiers): VendorRecordRef[];
  /**
   * Restricts processing of everything the tool holds for the person, without deleting it (GDPR Art. 18;
   * a legal hold under Art. 17(3)): each record is marked and kept out of marketing. Idempotent: a record
   * already restricted answers `already_restricted`. A tool with no per-person restriction leaves it out.
   */
  restrict?(subject: SubjectIdentifiers): Promise<RestrictResult>;
  /**
   * Rectification (GDPR Art. 16): sets the given fields on every record the tool holds for the person and
   * answers, per record, each field changed with its value before (which the activity turns into a keyed
   * hash and never passes on). A new address already used by another record of the tool is a
   * NonRetryableVendorError naming the conflict (Mailchimp's "Member Exists").
   */
  rectify?(
    subject: SubjectIdentifiers,
    changes: RectifyChanges,
    own?: VendorRecordRef[],
  ): Promise<RectifyResult>;
  /**
   * A rectification's harvest, before anything is written anywhere (issue 18): the records the tool holds
   * under the person's address (`own`, the ids every later attempt writes), and how many records that are
   * not the person's already hold the new address (`conflicts`). With `newAddressIsTheirs` (Mailchimp's
   * upemail: the vendor moved the person itself) records already at the new address count as their own.
   * Reads only.
   */
  planRectification?(
    subject: SubjectIdentifiers,
    newEmail: string | undefined,
    newAddressIsTheirs: boolean,
  ): Promise<RectificationPlan>;
  readConsent(subject: SubjectIdentifiers): Promise<ConsentReading>;
  applyConsent(subject: SubjectIdentifiers, change: ConsentChange): Promise<ApplyConsentResult>;
  /**
   * Writes the state that all decisions in force call for (consent-fields.ts has the rule), never one
   * purpose's decision on its own: a field several purposes share is allowed only while none of them is
   * withdrawn. `changed` names the purposes whose decision moved since the last write; a tool none of them
   * maps to answers `not_applicable` without a call.
   */
  applyConsentState(
    subject: SubjectIdentifiers,
    request: ConsentStateRequest,
    /** `skip`: deletions the tool accepted before (Google, one property of several), not sent again. */
    options?: EraseOptions,
  ): Promise<ConsentStateResult>;
  /** Reads the consent fields now and compares each with what the decisions in force call for. */
  verifyConsentState(subject: SubjectIdentifiers, decisions: DecisionsInForce): Promise<ConsentVerification>;
  /**
   * For reconciliation: one page of the people whose records changed since a watermark, with the marketing
   * consent each record expresses. Tools that cannot be listed (Google Analytics) leave it out.
   */
  listChanges?(request: ChangeListRequest): Promise<ChangePage>;
  /**
   * For bulk sources (reconciliation repairs, a burst of webhooks): writes consent fields on many records in
   * as few calls as the vendor documents (Mailchimp's batch subscribe/unsubscribe, 500 members a call;
   * Dataverse `$batch`, small batches sent in parallel), and answers one outcome per write, in the order
   * given, so each person's evidence stays exact. Only withdrawals are written in bulk: a grant may need a
   * double opt-in and evidence, which the per-person path decides. A failure of the whole call (429, 5xx,
   * refused token) is thrown as a VendorError and the caller retries the batch (every write is idempotent);
   * a failure of one write is that write's outcome. Tools with no bulk write leave it out.
   */
  writeConsentBatch?(writes: BulkConsentWrite[]): Promise<BulkWriteOutcome[]>;
  /**
   * For the bulk path: reads what the tool holds for each person (the reads `applyConsentState` makes) and
   * plans the writes their decisions in force call for, as `writeConsentBatch` writes, with the result each
   * person's write leads to once every one of their writes is applied. A person the bulk write cannot serve
   * exactly (a grant, a marketing permission, a member stored under another spelling of the mailbox, a read
   * that failed) answers `perPerson` with why, and goes through `applyConsentState`. Writes nothing.
   */
  planConsentBatch?(people: BulkStateRequest[]): Promise<BulkStatePlan[]>;
  /**
   * For readiness checks (`/readyz`): obtains a token (or makes the cheapest authenticated call) without
   * touching any person's data. Resolves when the credentials work; throws a VendorError otherwise.
   */
  checkAccess?(): Promise<void>;
  /**
   * For an access request (GDPR Art. 15 and 20): everything the tool holds about the person, each record
   * with its fields as the vendor names and labels them. Pages inside the call; `progress` is called after
   * each page (the activity heartbeats). The result holds personal data: it never goes into workflow history.
   */
  collectAccess?(subject: SubjectIdentifiers, progress?: () => void): Promise<AccessHoldings>;
}

/** One record's consent fields to write for one person, in a bulk write. */
export interface BulkConsentWrite {
  /** The caller's key for the person (the subject key), carried back in the outcome. */
  key: string;
  /**
   * The person's address, normalised (domain/email.ts): Mailchimp's batch addresses members by it. Travels
   * only inside encrypted payloads.
   */
  email: string;
  /**
   * The record: a Dataverse `contact` or `lead` with its id; for Mailchimp a `member` whose `container` is the
   * audience (its id, the subscriber hash, is not needed to write).
   */
  record: { kind: string; id?: string; container?: string };
  /**
   * Field → value, named as `ConsentStateResult.fields` names them: `donotbulkemail` → `true` (Dataverse),
   * `membership:<audience>` → `unsubscribed` (Mailchimp).
   */
  fields: Record<string, string>;
}

/** One person's state to plan for the bulk path: `key` is the subject key, carried back in the plan. */
export interface BulkStateRequest {
  key: string;
  subject: SubjectIdentifiers;
  request: ConsentStateRequest;
}

/**
 * One person's planned bulk write: `writes` (possibly none: the tool already shows the state, or holds
 * nothing) and `result`, what `applyConsentState` would answer once they are applied; or `perPerson`, why
 * this person needs the per-person path.
 */
export type BulkStatePlan =
  | { key: string; writes: BulkConsentWrite[]; result: Omit<ConsentStateResult, 'records'> }
  | { key: string; perPerson: string };

/** Why one write of a bulk write failed; serialisable (it travels in activity results). */
export interface BulkWriteFailure {
  retryable: boolean;
  status?: number;
  vendorCode?: string;
  /** Human-readable, names system, operation and reason; never an address or a name. */
  reason: string;
  /** The vendor's Retry-After for this write (a 429 inside a Dataverse batch), in milliseconds. */
  retryAfterMs?: number;
}

/**
 * One write's outcome. `applied`: the vendor accepted the write (it does not say whether the value was
 * already there, so never `already` on its word alone). `not_found`: the record is not there (a 404 for a
 * Dataverse row; an address Mailchimp permanently deleted). `created`: Mailchimp's batch had no member with
 * the address and added one with the written status.
 */
export type BulkVerdict =
  | { outcome: 'applied'; created?: boolean }
  | { outcome: 'already' | 'not_found' }
  | { outcome: 'failure'; error: BulkWriteFailure };
export type BulkWriteOutcome = { key: string; record: BulkConsentWrite['record'] } & BulkVerdict;

/** A VendorError as a bulk write's failure outcome. */
export function bulkFailure(error: {
  retryable: boolean;
  status?: number;
  vendorCode?: string;
  message: string;
  retryAfterMs?: number;
}): BulkWriteFailure {
  return {
    retryable: error.retryable,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.vendorCode === undefined ? {} : { vendorCode: error.vendorCode }),
    reason: error.message,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  };
}

/** One field of a record, with the vendor's display name where it has one. */
export interface AccessField {
  /** The vendor's name for the field (a Dataverse logical name, a Mailchimp merge tag). */
  name: string;
  /** The vendor's display name (Dataverse attribute DisplayName), when it has one. */
  label?: string;
  value: unknown;
  /**
   * The value is a keyed hash (HMAC under a hub secret) of something the hub does not keep in the clear: it
   * lets the hub recognise the thing again, but neither the hub nor the person can turn it back. Set only where
   * the ledger keeps nothing else.
   */
  keyed?: true;
}

/** One record a tool holds about the person, for an access export. */
export interface AccessRecord {
  /** What the vendor calls the record: `contact`, `lead`, `email`, `member`, `note`, `activity`, ... */
  kind: string;
  /** The vendor's id for the record. */
  id: string;
  /** Where it lives inside the vendor: a Mailchimp audience, a GA4 property. */
  container?: string;
  /** The record this one is about (a Dataverse activity's regarding contact, a note's member). */
  regarding?: { kind: string; id: string };
  fields: AccessField[];
}

/** A plain statement about a tool, for the report (such as "GA4 offers no per-user export"). */
export interface AccessStatement {
  topic: string;
  text: string;
}

export interface AccessHoldings {
  records: AccessRecord[];
  statements: AccessStatement[];
  /** GA client ids the tool keeps for the person (Dynamics' CRM column), for the Google section. */
  gaClientIds?: string[];
}

export interface ChangeListRequest {
  /** The watermark of the last fully handled run (vendor time, ISO 8601); absent reads everything. */
  since?: string;
  /** Where the previous page stopped; opaque to the caller. */
  cursor?: string;
  pageSize: number;
}

export interface ObservedPerson {
  /**
   * Normalised, as the vendor holds it; not yet checked by the hub's address parser (reconciliation does,
   * per record, so one unusable address is reported rather than stopping the run). Travels only inside
   * encrypted payloads.
   */
  email: string;
  /** The vendor's id of the record, for reports about it (a person-derived id is kept only keyed). */
  recordId?: string;
  /** The vendor's change time for the record. */
  changedAt?: string;
  /**
   * Each consent field the record holds, as the hub writes it: several purposes may share one field, so a
   * field's state says nothing about one purpose on its own (reconciliation compares it with the state all
   * decisions in force call for, connectors/consent-fields.ts).
   */
  fields: ObservedField[];
}

/** One consent field of a record, named and valued as `ConsentStateResult.fields` names and values it. */
export interface ObservedField {
  /** `donotbulkemail`, `membership:<audience>`, `permission:<audience>:<id>`. */
  field: string;
  /** The purposes mapped to the field. */
  purposes: Purpose[];
  /** The value as the hub records what it wrote (`unsubscribed`, `true`, `disabled`). */
  value: string;
  /** What the value says about consent: `unknown` for values that say nothing (pending, transactional). */
  state: ConsentStateInTool;
}

export interface ChangePage {
  people: ObservedPerson[];
  /** Absent on the last page. */
  nextCursor?: string;
  /**
   * The system's own cursor for the next run (Dataverse's delta links), once every page is handled. A system
   * without one leaves it out and gets the run's start time, minus an overlap, as its watermark.
   */
  latestChange?: string;
  /**
   * How many records the read holds, as far as the vendor has told so far (Mailchimp counts each audience on
   * its first page); absent when the vendor does not tell (Dataverse change tracking gives no count).
   */
  total?: number;
}

/** Everything known that identifies one person. `email` is already normalised (domain/email.ts). */
export interface SubjectIdentifiers {
  email: string;
  /** Google Analytics client ids (browser cookies), given with the request or found in the CRM. */
  gaClientIds: string[];
  /** Google Analytics user ids (signed-in users). */
  gaUserIds: string[];
  /**
   * Names the CRM holds for the person (first and last names), harvested by the erasure: never sent to a
   * vendor, only used to redact vendor errors and log lines that quote them.
   */
  names?: string[];
  /**
   * Addresses a vendor moved the person to while an erasure ran (Mailchimp's `upemail`), normalised: a
   * tool that finds records by address (Mailchimp) looks under each of them too. Absent almost always.
   */
  otherEmails?: string[];
}

/** One record a vendor holds, named the vendor's way. Never carries the email or a name. */
export interface VendorRecordRef {
  /** What the vendor calls the record: `contact`, `lead`, `member`, `userDeletionRequest`, ... */
  kind: string;
  /** The vendor's id for the record (a Dataverse GUID, a Mailchimp subscriber hash, a GA identifier). */
  id: string;
  /** Where the record lives inside the vendor: a Mailchimp audience id, a GA4 property id. */
  container?: string;
  /** The vendor's own status for the record, such as Mailchimp's `subscribed` or `unsubscribed`. */
  status?: string;
  /** The vendor's last-modified time, ISO 8601, where it keeps one. */
  modifiedAt?: string;
}

export interface FindResult {
  records: VendorRecordRef[];
  /** GA identifiers this tool stores about the person (Dynamics keeps client ids on contacts and leads). */
  gaClientIds: string[];
  gaUserIds: string[];
  /** Names the tool holds for the person (Dynamics' first and last names), for redaction only. */
  names?: string[];
  /**
   * Records the tool deletes together with the found ones, by kind, counted before anything is deleted
   * (Dynamics: the emails, phone calls, appointments and tasks regarding a contact or lead, which Dataverse
   * deletes with it through its parental, Delete: Cascade relationships). Absent when there are none.
   */
  dependents?: Record<string, number>;
}

export type EraseOutcome =
  /** At least one record was deleted now. */
  | 'erased'
  /** The tool held nothing for this person (or it was already gone). */
  | 'not_found'
  /** The tool accepted a deletion that it carries out later (Google Analytics). */
  | 'submitted';

export interface ErasedRecord extends VendorRecordRef {
  result: 'deleted' | 'already_gone' | 'submitted';
  /** The vendor's timestamp for the deletion, such as Google's `deletionRequestTime`. */
  vendorTime?: string;
  /** Where the vendor keeps an audit trail of deleted records (Dataverse): whether it was deleted too. */
  auditHistoryRemoved?: boolean;
}

export interface EraseResult {
  outcome: EraseOutcome;
  records: ErasedRecord[];
}

export interface RestrictedRecordRef extends VendorRecordRef {
  result: 'restricted' | 'already_restricted' | 'gone';
  /**
   * The record's id as `deleteRecord` takes it, when `id` would not still find the record after the
   * person's address changed (Mailchimp: `contact_id:<contact_id>`, while `id` is the hash of the address as
   * it was). Never derived from the person, so it is kept as it is. The erasure that follows a restriction
   * deletes the restricted records by their handle (Dataverse: by `id`, a random GUID), not by a new search
   * under the address the restriction found.
   */
  handle?: string;
  /** What was set, by name only: `donotemail`, `statecode`, `status:unsubscribed`, `tag:restricted`. */
  actions: string[];
}

export interface RestrictResult {
  outcome: 'restricted' | 'not_found' | 'not_applicable';
  records: RestrictedRecordRef[];
  /** Said when the tool has nothing to restrict by its nature (Google Analytics). */
  note?: string;
}

/** The new values, by the hub's field names; only the fields to change are present. */
export interface RectifyChanges {
  email?: string;
  firstname?: string;
  lastname?: string;
}

export interface RectifiedRecordRef extends VendorRecordRef {
  result: 'rectified' | 'already' | 'gone';
  /** Field name (the tool's: `emailaddress2`, `email_address`, `merge_fields.FNAME`) → the value before. */
  before: Record<string, string | null>;
}

/** What a rectification's harvest found in one tool (`Connector.planRectification`). */
export interface RectificationPlan {
  own: VendorRecordRef[];
  conflicts: number;
  /**
   * The records counted in `conflicts` (at the new address, not the person's under the old one), so the
   * activity can recognise among them those an earlier rectification of the person moved there. Absent from
   * connectors that cannot name them: every one then stays a conflict.
   */
  others?: VendorRecordRef[];
}

export interface RectifyResult {
  outcome: 'rectified' | 'not_found' | 'not_applicable';
  records: RectifiedRecordRef[];
  note?: string;
  /** Names the tool held for the person before the change (first and last names), for redaction only. */
  names?: string[];
}

export interface ConsentChange {
  purpose: Purpose;
  decision: ConsentDecision;
  /** When the person made the choice, from the source (ISO 8601). */
  occurredAt: string;
  /**
   * Only a grant with evidence may create a record that does not exist yet (a Mailchimp member, say).
   * Withdrawals never create anything.
   */
  hasEvidence: boolean;
}

export type ConsentStateInTool = ConsentDecision | 'mixed' | 'unknown';

/** The decision in force for one purpose, as a connector needs it to compute its fields. */
export interface DecisionInForce {
  decision: ConsentDecision;
  /** Only a grant with evidence may re-subscribe or create. */
  hasEvidence: boolean;
}
export type DecisionsInForce = Partial<Record<Purpose, DecisionInForce>>;

export interface ConsentStateRequest {
  /** Every decision in force for the person; a purpose absent has no decision yet (not withdrawn). */
  decisions: DecisionsInForce;
  /** The purposes whose decision moved since this system was last written. */
  changed: Purpose[];
}

/** What the tool shows for one purpose's decision; `withheld`: a withdrawal of another purpose shares its field. */
export type PurposeOutcome = ApplyConsentOutcome | 'withheld';

export interface ConsentStateResult {
  outcome: ApplyConsentOutcome;
  /** Per purpose with a decision that this tool carries. */
  purposes: Partial<Record<Purpose, PurposeOutcome>>;
  /** The fields as they stand after the write: field name → value. */
  fields: Record<string, string>;
  records: VendorRecordRef[];
  vendorTime?: string;
}

export interface ConsentFieldCheck {
  /** The connector's name for the field: `donotbulkemail`, `membership:<audience>`, `permission:<audience>:<id>`. */
  field: string;
  purposes: Purpose[];
  /** What the decisions in force call for; absent when none of the purposes has a decision. */
  desired?: string;
  /** What the tool holds now (`absent` when it holds no record). */
  actual: string;
  differs: boolean;
}

export interface ConsentVerification {
  fields: ConsentFieldCheck[];
  /** Said when the tool cannot be read (Google Analytics). */
  note?: string;
}

export interface ConsentReading {
  /** Per purpose this tool can express; purposes the tool has no notion of are absent. */
  purposes: Partial<Record<Purpose, ConsentStateInTool>>;
  records: VendorRecordRef[];
}

export type ApplyConsentOutcome =
  /**
   * The hub wrote the requested state and the tool's answer confirms it. A write whose answer cannot tell
   * whether the state was different before (Mailchimp's opt-out PATCH, sent with no read first) is this.
   */
  | 'applied'
  /** The hub read the tool and saw the requested state already in place, and wrote nothing. */
  | 'already'
  /** The tool holds nothing for the person, and nothing was created. */
  | 'not_found'
  /** A grant is waiting for the person to confirm it (Mailchimp's double opt-in). */
  | 'pending_confirmation'
  /** This tool has no notion of this purpose. */
  | 'not_applicable';

export interface ApplyConsentResult {
  outcome: ApplyConsentOutcome;
  records: VendorRecordRef[];
  /** Vendor timestamps, such as GA's deletionRequestTime when a statistics withdrawal submits a deletion. */
  vendorTime?: string;
}

/** Which connector a call goes to: a vendor system, or the no-op connector of an unconfigured hub. */
export type ConnectorName = Connector['system'] | 'noop';
export type ConnectorSet = Partial<
  Record<
    ConnectorName,
    Pick<
      Connector,
      'find' | 'erase' | 'deleteRecord' | 'readConsent' | 'applyConsent' | 'listChanges' | 'checkAccess'
    > &
      Partial<
        Pick<
          Connector,
          | 'applyConsentState'
          | 'verifyConsentState'
          | 'collectAccess'
          | 'restrict'
          | 'rectify'
          | 'planRectification'
          | 'plannedDeletions'
          | 'writeConsentBatch'
          | 'planConsentBatch'
        >
      >
  >
>;
