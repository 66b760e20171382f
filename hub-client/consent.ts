import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  type ConsentChangeRequestInput,
  type ConsentChangeSignal,
  type ConsentStatusView,
  type ConsentTimings,
  consentChangeRequestSchema,
} from '../domain/consent.js';
import { emailSchema } from '../domain/email.js';
import { consentStateFromLedger } from '../ledger/consent-state.js';
import type { Ledger } from '../ledger/ledger.js';
import { redactSubject } from '../privacy/redaction.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import type { consentWorkflow } from '../workflows/consent.js';
import {
  consentChangeSignal,
  consentStatusQuery,
  consentWorkflowId,
} from '../workflows/consent-definitions.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { type HubClientContext, withRetryStates } from './erasures.js';
import { retryStatesOf } from './pending-activities.js';

export interface ConsentClientContext extends HubClientContext {
  consentTimings: ConsentTimings;
}

export interface ConsentChangeAccepted {
  eventId: string;
  subjectKey: string;
  workflowId: string;
}

/**
 * Hands one consent change to the subject's consent workflow, starting it if it is not running
 * (signal-with-start), so that every change for one person goes through one serialising workflow.
 */
export async function recordConsentChange(
  context: ConsentClientContext,
  input: ConsentChangeRequestInput,
  /** A caller that may repeat itself (reconciliation, a webhook) passes a stable id, so a repeat is a no-op. */
  stableEventId?: string,
): Promise<ConsentChangeAccepted> {
  const change = consentChangeRequestSchema.parse(input);
  const subjectKey = subjectKeyFor(change.email, context.subjectKeySecret);
  const workflowId = consentWorkflowId(subjectKey);
  const eventId = stableEventId ?? randomUUID();
  await context.client.workflow.signalWithStart<typeof consentWorkflow, [ConsentChangeSignal]>(
    'consentWorkflow',
    {
      taskQueue: context.taskQueue,
      workflowId,
      args: [{ subjectKey, email: change.email, timings: context.consentTimings }],
      signal: consentChangeSignal,
      signalArgs: [
        {
          eventId,
          purpose: change.purpose,
          decision: change.decision,
          occurredAt: new Date(change.occurredAt).toISOString(),
          recordedAt: new Date().toISOString(),
          source: change.source,
          evidence: change.evidence.note
            ? { ...change.evidence, note: redactSubject(change.evidence.note, { email: change.email }) }
            : change.evidence,
        },
      ],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: subjectKey }],
    },
  );
  return { eventId, subjectKey, workflowId };
}

export type ConsentStatusResult = ConsentStatusView & { from: 'workflow' | 'ledger' };

/** The live state while the subject's workflow runs; otherwise what the ledger proves. */
export async function consentStatus(
  context: HubClientContext,
  ledger: Ledger,
  rawEmail: string,
): Promise<ConsentStatusResult> {
  const email = emailSchema.parse(rawEmail);
  return consentStatusOfSubject(context, ledger, subjectKeyFor(email, context.subjectKeySecret));
}

/** As consentStatus, by subject key (a consent change's request id leads to its subject key). */
export async function consentStatusOfSubject(
  context: HubClientContext,
  ledger: Ledger,
  subjectKey: string,
): Promise<ConsentStatusResult> {
  const handle = context.client.workflow.getHandle<typeof consentWorkflow>(consentWorkflowId(subjectKey));
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') {
      // What the worker is retrying right now (attempt, last failure, next retry) rides along per system.
      const [view, retrying] = await Promise.all([
        handle.query(consentStatusQuery),
        retryStatesOf(context.client, handle),
      ]);
      return { ...withRetryStates(view, retrying), from: 'workflow' };
    }
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  const stored = await consentStateFromLedger(ledger, subjectKey);
  return {
    subjectKey,
    purposes: Object.fromEntries(
      Object.entries(stored.purposes).map(([purpose, decision]) => [
        purpose,
        { ...decision, systems: stored.outcomes[purpose as keyof typeof stored.outcomes] ?? {} },
      ]),
    ),
    systems: {
      dynamics: { status: 'idle', attempts: 0 },
      mailchimp: { status: 'idle', attempts: 0 },
      google: { status: 'idle', attempts: 0 },
    },
    inFlight: 0,
    refused: [],
    superseded: [],
    erased: stored.erased,
    from: 'ledger',
  };
}
