import { z } from 'zod';
import { emailSchema } from './email.js';
import { type ConsentDecision, consentDecisionSchema, type Purpose, purposeSchema } from './purposes.js';
import type { SystemName } from './systems.js';

/** Where a consent choice came from, and what proves it. No raw email. */
export const consentEvidenceSchema = z.object({
  /** The privacy-notice or policy version the person agreed to. */
  policyVersion: z.string().max(200).optional(),
  /** The form the choice was made in, such as `contact-form`. */
  formId: z.string().max(200).optional(),
  /** web, email, phone, in-person, api, vendor ... */
  channel: z.string().max(100).optional(),
  /** A reference to the original request: a ticket id, a webhook delivery id, an API idempotency key. */
  requestRef: z.string().max(500).optional(),
  /** The exact text of the consent checkbox, when there was one. */
  text: z.string().max(2000).optional(),
});
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
    source: z.string().trim().min(1).max(200),
    evidence: consentEvidenceSchema.default({}),
  })
  .refine(
    (change) =>
      change.decision === 'withdrawn' ||
      Boolean(change.evidence.policyVersion || change.evidence.formId || change.evidence.requestRef),
    {
      path: ['evidence'],
      error: 'a grant needs evidence: at least one of policyVersion, formId or requestRef',
    },
  );
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
}

export type ConsentApplicationOutcome =
  | 'applied'
  | 'already'
  | 'not_found'
  | 'pending_confirmation'
  | 'not_applicable'
  | 'failed'
  | 'closed_by_operator';

export interface SystemConsentState {
  status: 'idle' | 'running' | 'needs_attention' | 'failed' | 'closed_by_operator';
  attempts: number;
  failure?: { type: string; reason: string; status?: number; vendorCode?: string };
  closedReason?: string;
  completedAt?: string;
  /** The last change carried to this system, and what the system answered. */
  last?: { eventId: string; purpose: Purpose; decision: ConsentDecision; outcome: ConsentApplicationOutcome };
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
  /** Changes refused because the subject was erased. */
  refused: string[];
  /** Changes received after a later one for the same purpose: recorded as evidence, not applied. */
  superseded: string[];
  erased: boolean;
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
  /** Carried across continue-as-new. */
  carried?: {
    purposes: Partial<Record<Purpose, PurposeDecision>>;
    outcomes: Partial<Record<Purpose, Partial<Record<SystemName, ConsentApplicationOutcome>>>>;
    pending: ConsentChangeSignal[];
    refused: string[];
    superseded: string[];
  };
}
