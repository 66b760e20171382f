import { z } from 'zod';
import { emailSchema } from './email.js';
import { actorIdSchema, noteSchema, referenceSchema } from './free-text.js';
import type { OperatorLogEntry, RetryState } from './operator.js';
import { type ConsentDecision, consentDecisionSchema, type Purpose, purposeSchema } from './purposes.js';
import type { SystemName } from './systems.js';

/**
 * What proves a consent choice: a closed set of references, no prose but a note that is scrubbed before it is
 * kept. An unknown key is refused, never dropped. `text` (the consent checkbox's words, from older clients)
 * is accepted and kept as the note.
 */
export const consentEvidenceSchema = z
  .object({
    /** The privacy-notice or policy version the person agreed to. */
    policyVersion: referenceSchema(200).optional(),
    /** The form the choice was made in, such as `contact-form`. */
    formId: referenceSchema(200).optional(),
    /** web, email, phone, in-person, api, cli, mailchimp-webhook, reconciliation ... */
    channel: referenceSchema(100).optional(),
    /** A reference to the original request: a ticket id, a webhook delivery id, an API idempotency key. */
    requestRef: referenceSchema(500).optional(),
    /** Free text; the subject's data and every address are scrubbed from it before it is kept. */
    note: noteSchema.optional(),
    /** Older clients' name for the note. */
    text: noteSchema.optional(),
  })
  .strict()
  .transform(({ text, note, ...references }): typeof references & { note?: string } => {
    const merged = note ?? text;
    return merged === undefined ? references : { ...references, note: merged };
  });

/** Evidence as the ledger holds it, including rows written before the schema was closed. */
export const storedConsentEvidenceSchema = z.record(z.string(), z.string());
export type ConsentEvidence = z.infer<typeof consentEvidenceSchema>;

/**
 * A consent change as the CLI and the API accept it. Opt-out is sticky: only a grant with evidence (a
 * policy version, a form or a reference to the original request) may turn consent back on.
 */
export const consentChangeRequestSchema = z
  .object({
    email: emailSchema,
    purpose: purposeSchema,
    decision: consentDecisionSchema,
    occurredAt: z.iso.datetime({ offset: true }),
    /** Where the change came from: a system or operator id (`cli`, `api`, `mailchimp`, `form:contact`). */
    source: actorIdSchema,
    evidence: consentEvidenceSchema.default({}),
    /**
     * When a person's request reached the controller (a letter, an email), when it is entered later: its
     * one-month deadline runs from here (checked in hub-client against the clock and the floor).
     */
    receivedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((change) => change.decision === 'withdrawn' || evidenceAllowsGrant(change.evidence), {
    path: ['evidence'],
    error: 'a grant needs evidence: at least one of policyVersion, formId or requestRef',
  });
export type ConsentChangeRequest = z.output<typeof consentChangeRequestSchema>;
export type ConsentChangeRequestInput = z.input<typeof consentChangeRequestSchema>;

/** One change as the consent workflow receives it: no email, an id for idempotency. */
export interface ConsentChangeSignal {
  eventId: string;
  purpose: Purpose;
  decision: ConsentDecision;
  occurredAt: string;
  recordedAt: string;
  source: string;
  evidence: ConsentEvidence;
}

/** The current decision for one purpose: the change with the latest occurredAt (withdrawal wins a tie). */
export interface PurposeDecision {
  eventId: string;
  decision: ConsentDecision;
  occurredAt: string;
  source: string;
  /** A grant with evidence may re-subscribe or create; a withdrawal never needs any. */
  hasEvidence?: boolean;
}

/** True when the evidence may turn consent back on: a policy version, a form or a request reference. */
export function evidenceAllowsGrant(evidence: ConsentEvidence): boolean {
  return Boolean(evidence.policyVersion || evidence.formId || evidence.requestRef);
}

export type ConsentApplicationOutcome =
  | 'applied'
  | 'already'
  | 'not_found'
  | 'pending_confirmation'
  | 'not_applicable'
  /** A grant that does not show in the tool: another purpose sharing its field is withdrawn. */
  | 'withheld'
  | 'failed'
  | 'closed_by_operator';

/** The consent state the hub last wrote to one system, and when. */
export interface WrittenConsentState {
  at: string;
  outcome: ConsentApplicationOutcome;
  /** Field name → value written, as the connector names them (`donotbulkemail`, `membership:<audience>`). */
  fields: Record<string, string>;
  reason?: string;
}

export interface SystemConsentState {
  /** `waiting_for_vendor`: the vendor asked to wait past the step's deadline (a durable timer runs). */
  status: 'idle' | 'running' | 'waiting_for_vendor' | 'needs_attention' | 'failed' | 'closed_by_operator';
  attempts: number;
  /** While waiting for the vendor: when the write is tried again, ISO 8601. */
  resumesAt?: string;
  failure?: { type: string; reason: string; status?: number; vendorCode?: string };
  closedReason?: string;
  completedAt?: string;
  /** Filled by the status views (not the workflow): what the worker is retrying now. */
  retrying?: RetryState;
  /** The state the hub last wrote to this system (or why it could not), and when. */
  written?: WrittenConsentState;
  /** A newer state is waiting for this system (queued behind a call in flight or an operator). */
  behind?: boolean;
}

export interface ConsentStatusView {
  subjectKey: string;
  /** The decision in force per purpose. */
  purposes: Partial<
    Record<Purpose, PurposeDecision & { systems: Partial<Record<SystemName, ConsentApplicationOutcome>> }>
  >;
  systems: Record<SystemName, SystemConsentState>;
  /** Changes received and not yet carried to every system. */
  inFlight: number;
  /** Grants refused because the subject was erased (withdrawals are never refused). */
  refused: string[];
  /** Changes received after a later one for the same purpose: recorded as evidence, not applied. */
  superseded: string[];
  erased: boolean;
  /** Operator retries and closes in this run of the subject's workflow (the ledger keeps them all). */
  operatorActions?: OperatorLogEntry[];
  /**
   * Set when this run ended by handing the person over to their new subject key (an email change): the new
   * key and the rectification that re-keyed them. Keys and a request id only, never an address.
   */
  rekeyedTo?: { subjectKey: string; requestId: string; at: string };
}

export interface ConsentTimings {
  attentionAfter: string | number;
  operatorDeadline: string | number;
  heartbeatTimeout?: string | number;
  /** The workflow ends after this long with no change, so idle people are not running workflows. */
  idleAfter: string | number;
}

export interface ConsentWorkflowInput {
  subjectKey: string;
  /** Identifiers to reach the person in each tool; the email reaches Temporal only encrypted. */
  email: string;
  timings: ConsentTimings;
  /**
   * Set by every current starter (hub-client's `consentWorkflowInput`): the run marks the changes it took in
   * completed with a local activity as it ends (issue 21). A workflow-code version carried in the start
   * event rather than a `patched()` marker, whose TemporalChangeVersion upsert would cost every run two more
   * Temporal actions; absent in runs started before it, which keep the `consent-completes-requests` patch.
   */
  localCompletion?: boolean;
  /**
   * Set by every current starter, as `localCompletion`: the run records the changes it takes in with a local
   * activity inside the workflow task that took them (issue 21), where an activity task and one more
   * workflow task per change were spent before. Absent in runs started before it, which keep the activity.
   */
  localRecording?: boolean;
  /** Carried across continue-as-new. */
  carried?: {
    purposes: Partial<Record<Purpose, PurposeDecision>>;
    outcomes: Partial<Record<Purpose, Partial<Record<SystemName, ConsentApplicationOutcome>>>>;
    pending: ConsentChangeSignal[];
    refused: string[];
    superseded: string[];
    /** Per system, what was last written, and withdrawals that failed there and wait for reconciliation. */
    written?: Partial<Record<SystemName, WrittenConsentState>>;
    unresolved?: SystemName[];
    reapply?: ConsentReapplySignal[];
    erased?: boolean;
  };
}

/**
 * Sent by a rectification that re-keyed the person (an email change) to the consent workflow still running
 * under the old key: it stops, hands what it still had to do to the new key's workflow, and ends.
 */
export interface ConsentRekeySignal {
  newSubjectKey: string;
  /** The new address, which the new key's workflow writes to; it reaches Temporal only encrypted. */
  newEmail: string;
  requestId: string;
}

/**
 * What an old key's consent workflow hands to the new key's on re-key: the changes it had received but not
 * yet taken in, and the systems whose state it had not yet written (or whose withdrawal failed and waits).
 */
export interface ConsentHandOverSignal {
  fromSubjectKey: string;
  requestId: string;
  pending: ConsentChangeSignal[];
  systems: SystemName[];
}

/** Asks a person's workflow to write their state to systems again (reconciliation's repair). */
export interface ConsentReapplySignal {
  systems: SystemName[];
  reason: string;
}
