import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ConsentHandOverInput } from '../activities/reconciliation-activities.js';
import type { DecisionsInForce } from '../connectors/connector.js';
import {
  type ConsentChangeRequestInput,
  type ConsentChangeSignal,
  type ConsentHandOverSignal,
  type ConsentStatusView,
  type ConsentTimings,
  type ConsentWorkflowInput,
  consentChangeRequestSchema,
  type WrittenConsentState,
} from '../domain/consent.js';
import { emailSchema } from '../domain/email.js';
import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import { consentStateFromLedger } from '../ledger/consent-state.js';
import type { Ledger } from '../ledger/ledger.js';
import { redactSubject } from '../privacy/redaction.js';
import { adoptLegacySubjectKeys, canonicalKeyLink, subjectKeyFor } from '../privacy/subject-key.js';
import type { consentWorkflow } from '../workflows/consent.js';
import {
  consentChangeSignal,
  consentHandOverSignal,
  consentReapplySignal,
  consentRekeySignal,
  consentStatusQuery,
  consentWorkflowId,
} from '../workflows/consent-definitions.js';
import type { ConsentVerifyResult, consentVerifyWorkflow } from '../workflows/consent-verify.js';
import { subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { type HubClientContext, withRetryStates } from './erasures.js';
import { type LegacyKeyWorkflow, runningUnderLegacyKey } from './legacy-key-workflows.js';
import { redactOperatorText } from './operator-text.js';
import { retryStatesOf } from './pending-activities.js';
import { followRekeyedAddress } from './rekeyed-subjects.js';
import { receiptTimes, registerDeadline } from './request-deadlines.js';
import { GrantRefusedAfterErasure } from './request-errors.js';
import { isRunning, shredWhenClosed } from './shredding.js';
import { followSubjectLinks, requestedUnderOf, type SubjectLinkLedger } from './subject-links.js';

export interface ConsentClientContext extends HubClientContext {
  consentTimings: ConsentTimings;
  /** How long an access export may be fetched (CONSENT_HUB_EXPORT_TTL); 30 days when absent. */
  exportTtl?: string | number;
  /**
   * The intake buffer of bulk sources (CONSENT_HUB_INTAKE_BUFFER_WINDOW, CONSENT_HUB_WEBHOOK_BULK_FROM):
   * window in milliseconds, and people in a window from which a batch workflow carries them; the defaults
   * (hub-client/consent-batch.ts `intakeBuffer`) when absent.
   */
  intakeBuffer?: { windowMs: number; bulkFrom: number };
}

export interface ConsentChangeAccepted {
  eventId: string;
  subjectKey: string;
  workflowId: string;
  /** When the change was received and when it is due (GDPR Art. 12(3)), for a person's request. */
  receivedAt: string;
  dueAt: string;
  /**
   * Set when a consent workflow of the person was still running under the key an older version gave another
   * spelling of the address: that key. It was told to hand its pending work over to this key's workflow
   * and end (the same hand-over as an email change's), so one workflow carries the person's changes.
   */
  mergedLegacyKey?: string;
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
  /**
   * With the ledger, the change is registered as a person's request with its deadline (`consent-hub
   * requests`); reconciliation and webhooks, which only carry a change seen in a tool, pass none. With the
   * ledger, a grant for an erased person (a tombstone) is refused here with GrantRefusedAfterErasure before
   * anything is recorded; the workflow still refuses one that races the tombstone.
   */
  options: {
    ledger?: ConsentIntakeLedger;
    /**
     * When the hub first recorded the change (ISO 8601), for a change handed over from where it was taken
     * in (a batch handing a person to their own workflow): the ledger keeps that time, not the hand-over's.
     */
    recordedAt?: string;
    /**
     * Workflows that carried the change before it came here (a consent batch, its intake buffer): an erased
     * person's data key is shredded only once these have closed too, as they hold payloads sealed with it.
     */
    holders?: string[];
  } = {},
): Promise<ConsentChangeAccepted> {
  const change = consentChangeRequestSchema.parse(input);
  const times = receiptTimes(context, change.receivedAt);
  const addressKey = subjectKeyFor(change.email, context.subjectKeySecret);
  // A tombstone (or evidence) recorded under another spelling's older key is moved to this key first.
  if (options.ledger) await adoptLegacySubjectKeys(options.ledger, change.email, context.subjectKeySecret);
  // An address a rectification moved away from: the change is the person's (a late webhook, a form sent
  // before the change, a grant by the address they gave up) and goes to their key now, whose tombstone refuses
  // a grant as their own would.
  const movedTo = options.ledger
    ? await rekeyedSubject(context, options.ledger, change.email, change)
    : undefined;
  const subjectKey = movedTo?.subjectKey ?? addressKey;
  const tombstone = options.ledger ? await options.ledger.getTombstone(subjectKey) : undefined;
  if (change.decision === 'granted' && tombstone) {
    throw new GrantRefusedAfterErasure(subjectKey, tombstone.erasedAt);
  }
  const workflowId = consentWorkflowId(subjectKey);
  const eventId = stableEventId ?? randomUUID();
  // The note is kept in the ledger: redacted of the address here, and of the names the CRM holds for the
  // person by their consent workflow (when it has looked them up).
  const note = change.evidence.note
    ? await redactOperatorText(
        context.client.workflow.getHandle(workflowId),
        movedTo?.email
          ? redactSubject(redactSubject(change.evidence.note, { email: change.email }), {
              email: movedTo.email,
            })
          : redactSubject(change.evidence.note, { email: change.email }),
      )
    : undefined;
  const signal: ConsentChangeSignal = {
    eventId,
    purpose: change.purpose,
    decision: change.decision,
    occurredAt: new Date(change.occurredAt).toISOString(),
    recordedAt: options.recordedAt ?? new Date().toISOString(),
    source: change.source,
    evidence: note ? { ...change.evidence, note } : change.evidence,
  };
  // A run still open under an older spelling's key (started before an upgrade) hands over to this key.
  const legacy = movedTo
    ? undefined
    : await runningUnderLegacyKey(context.client, change.email, context.subjectKeySecret, consentWorkflowId);
  if (legacy)
    await mergeLegacyConsent(context, legacy, { newSubjectKey: subjectKey, newEmail: change.email });
  if (movedTo && !movedTo.email) {
    // Never started with the old address: only the new key's running workflow knows where to write.
    await context.client.workflow.getHandle(workflowId).signal(consentChangeSignal, signal);
  } else {
    await context.client.workflow.signalWithStart<typeof consentWorkflow, [ConsentChangeSignal]>(
      'consentWorkflow',
      {
        taskQueue: context.taskQueue,
        workflowId,
        args: [consentWorkflowInput(subjectKey, movedTo?.email ?? change.email, context.consentTimings)],
        signal: consentChangeSignal,
        signalArgs: [signal],
        typedSearchAttributes: [{ key: subjectKeyAttribute, value: subjectKey }],
      },
    );
  }
  // An erased person's withdrawal still goes to the tools, under a data key minted for it: that key goes once
  // the run has closed, as the erasure's did, or the address would stay readable in the run's history.
  if (tombstone)
    await shredWhenClosed(context, {
      subjectKey,
      requestId: eventId,
      before: new Date().toISOString(),
      ...(options.holders?.length ? { holders: options.holders } : {}),
    });
  const deadline = await registerDeadline(
    options.ledger,
    { requestId: eventId, kind: 'consent', subjectKey },
    times,
  );
  return {
    eventId,
    subjectKey,
    workflowId,
    receivedAt: deadline.receivedAt,
    dueAt: deadline.dueAt,
    ...(legacy ? { mergedLegacyKey: legacy.subjectKey } : {}),
  };
}

/**
 * Tells a consent workflow running under a legacy key to hand over to the current key (`consentRekey`, as
 * a rectification does, recorded under the canonical-key link); a run that closed meanwhile needs nothing.
 */
async function mergeLegacyConsent(
  context: HubClientContext,
  legacy: LegacyKeyWorkflow,
  to: { newSubjectKey: string; newEmail: string },
): Promise<void> {
  try {
    await context.client.workflow
      .getHandle(legacy.workflowId, legacy.runId)
      .signal(consentRekeySignal, { ...to, requestId: canonicalKeyLink });
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/**
 * Whether a rectification moved this key's person to another key (`subject_links`, not a legacy spelling's
 * link): their changes are then the person's under that key, whatever state its consent workflow is in.
 */
export async function isRekeyedAway(ledger: Pick<Ledger, 'getSubjectLink'>, subjectKey: string) {
  const link = await ledger.getSubjectLink(subjectKey);
  return Boolean(link && link.requestId !== canonicalKeyLink);
}

/**
 * Where a change for an address a rectification moved away from goes: the person's key now (every re-key
 * followed, as erasure, hold, access and status do: followRekeyedAddress) and their address now, to start
 * their consent workflow with when it is not running. Undefined when nothing re-keyed the address, or when
 * the person's workflow is not running and their address now cannot be read (the rectification is past
 * Temporal's retention): the change then counts as the address's own, as it would without the link, since
 * the hub has no address to write the person's tools with. The hand-over (consent.ts) covers the old key's
 * run itself.
 */
export async function rekeyedSubject(
  context: HubClientContext,
  ledger: SubjectLinkLedger,
  email: string,
  change?: { source: string; occurredAt: string },
): Promise<{ subjectKey: string; email?: string } | undefined> {
  if (!(await isRekeyedAway(ledger, subjectKeyFor(email, context.subjectKeySecret)))) return undefined;
  // An address with a life of its own since the re-key, or one a vendor shows after it, is not followed
  // (followSubjectLinks): no hops then, and the change is the address's own.
  const followed = await followRekeyedAddress(
    context.client,
    ledger,
    email,
    context.subjectKeySecret,
    change && vendorObserved(change.source) ? { seenInVendorAt: change.occurredAt } : {},
  );
  if (followed.hops.length === 0) return undefined;
  if (followed.email) return { subjectKey: followed.subjectKey, email: followed.email };
  return (await isRunning(context.client, consentWorkflowId(followed.subjectKey)))
    ? { subjectKey: followed.subjectKey }
    : undefined;
}

/**
 * A change a vendor reported of the address (Mailchimp's webhook, reconciliation's reading of a tool), not
 * one a person or operator sent the hub: its time is when the vendor showed the address.
 */
function vendorObserved(source: string): boolean {
  return source === 'mailchimp' || source.startsWith('reconciliation:');
}

/**
 * Hands a re-keyed person's pending consent work (changes not yet taken in, systems not yet written) to the
 * consent workflow of their new key, with signal-with-start: a running one takes it in, otherwise one is
 * started with the new address and the old run's timings (workflows/consent.ts, `handOver`).
 */
/**
 * A person's consent workflow's start input: subject key, address (encrypted on its way to Temporal), the
 * timings, and the workflow-code revisions every start asks for (`localCompletion`, `localRecording`,
 * domain/consent.ts).
 */
export function consentWorkflowInput(
  subjectKey: string,
  email: string,
  timings: ConsentTimings,
): ConsentWorkflowInput {
  return { subjectKey, email, timings, localCompletion: true, localRecording: true };
}

export async function handOverConsent(context: HubClientContext, input: ConsentHandOverInput): Promise<void> {
  const { subjectKey, email, timings, ...handOver } = input;
  await context.client.workflow.signalWithStart<typeof consentWorkflow, [ConsentHandOverSignal]>(
    'consentWorkflow',
    {
      taskQueue: context.taskQueue,
      workflowId: consentWorkflowId(subjectKey),
      args: [consentWorkflowInput(subjectKey, email, timings)],
      signal: consentHandOverSignal,
      signalArgs: [handOver],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: subjectKey }],
    },
  );
}

/**
 * Asks a person's consent workflow to write their state to some systems again (reconciliation's repair).
 * With the email, the workflow is started if it has ended; without it only a running one can be asked.
 */
export async function reapplyConsent(
  context: ConsentClientContext,
  input: { subjectKey: string; email?: string; systems: SystemName[]; reason: string },
): Promise<{ delivered: boolean }> {
  const workflowId = consentWorkflowId(input.subjectKey);
  const request = { systems: input.systems, reason: input.reason };
  if (input.email) {
    await context.client.workflow.signalWithStart<typeof consentWorkflow, [typeof request]>(
      'consentWorkflow',
      {
        taskQueue: context.taskQueue,
        workflowId,
        args: [consentWorkflowInput(input.subjectKey, input.email, context.consentTimings)],
        signal: consentReapplySignal,
        signalArgs: [request],
        typedSearchAttributes: [{ key: subjectKeyAttribute, value: input.subjectKey }],
      },
    );
    return { delivered: true };
  }
  try {
    await context.client.workflow.getHandle(workflowId).signal(consentReapplySignal, request);
    return { delivered: true };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { delivered: false };
    throw error;
  }
}

/**
 * The decision in force for one purpose as a status answers it: the change's evidence as the ledger keeps it
 * (policy version, form id, channel, request reference, redacted note) and when the hub recorded it; `source`
 * says who recorded it (`console:<key>`, `api`, `mailchimp` ...). Both absent while the change is still on
 * its way to the ledger (the person's workflow writes it first thing).
 */
/** What taking in a consent change reads and writes in the ledger (the single route and the batch's). */
export type ConsentIntakeLedger = Pick<
  Ledger,
  | 'registerRequest'
  | 'getTombstone'
  | 'subjectKeyInUse'
  | 'rekeySubject'
  | 'getSubjectLink'
  | 'getRectification'
  | 'subjectKeyRecordedSince'
>;

export type DecisionWithEvidence = NonNullable<ConsentStatusView['purposes'][Purpose]> & {
  recordedAt?: string;
  evidence?: Record<string, string>;
};

export type ConsentStatusResult = Omit<ConsentStatusView, 'purposes'> & {
  purposes: Partial<Record<Purpose, DecisionWithEvidence>>;
  from: 'workflow' | 'ledger';
  /** With `verify`: each system read now, field by field, against what the decisions in force call for. */
  verification?: ConsentVerifyResult;
  /** With `verify`: true when some field in some tool differs from what the hub would write. */
  differs?: boolean;
  /** With `verify`: the tools that could not be read now, and why; never counted as agreeing. */
  unreadable?: { system: SystemName; reason: string }[];
  /** With `verify`: true only when every tool was read and no field differs. */
  agrees?: boolean;
  /**
   * Set when the address asked for was re-keyed by rectifications: the key it names and the re-keys
   * followed; `subjectKey` is the person's key now, whose status this is. `notFollowed`: a re-key left
   * unfollowed because its old key has records of its own since (followSubjectLinks).
   */
  requestedUnder?: {
    subjectKey: string;
    rekeys: { from: string; to: string; rectificationRequestId: string; at: string }[];
    notFollowed?: { from: string; to: string; rectificationRequestId: string; at: string };
  };
};

/**
 * The live state while the subject's workflow runs; otherwise what the ledger proves. Per system, `written`
 * is the state the hub last wrote there and when. With `verify`, the worker reads every tool now and each
 * field is marked where it differs.
 */
export async function consentStatus(
  context: HubClientContext,
  ledger: Ledger,
  rawEmail: string,
  options: { verify?: boolean } = {},
): Promise<ConsentStatusResult> {
  const status = await currentStatus(context, ledger, rawEmail);
  if (!options.verify) return status;
  const asked = emailSchema.parse(rawEmail);
  // The tools hold the person under the address they have now: read there (the address asked for when the
  // rectification that moved it is no longer kept, and the check then says what that address shows).
  const email = status.requestedUnder
    ? ((await followRekeyedAddress(context.client, ledger, asked, context.subjectKeySecret)).email ?? asked)
    : asked;
  const verifyId = randomUUID();
  const verification = await context.client.workflow.execute<typeof consentVerifyWorkflow>(
    'consentVerifyWorkflow',
    {
      taskQueue: context.taskQueue,
      workflowId: `consent-verify-${status.subjectKey}-${verifyId}`,
      args: [
        {
          subjectKey: status.subjectKey,
          email,
          decisions: decisionsOf(status),
          systems: ['dynamics', 'mailchimp', 'google'],
        },
      ],
      typedSearchAttributes: [{ key: subjectKeyAttribute, value: status.subjectKey }],
    },
  );
  const differs = Object.values(verification).some(
    (answer) => answer && 'fields' in answer && answer.fields.some((field) => field.differs),
  );
  const unreadable = (
    Object.entries(verification) as [SystemName, ConsentVerifyResult[SystemName]][]
  ).flatMap(([system, answer]) => (answer && 'error' in answer ? [{ system, reason: answer.error }] : []));
  // Checking an erased person's tools put their address in a history again, under a key minted for it: that
  // key goes as the erasure's did, once the person's workflows have closed.
  if (status.erased) {
    await shredWhenClosed(context, {
      subjectKey: status.subjectKey,
      requestId: `verify-${verifyId}`,
      before: new Date().toISOString(),
    });
  }
  return { ...status, verification, differs, unreadable, agrees: !differs && unreadable.length === 0 };
}

/** The decisions the tools should show; for an erased person only the withdrawals (grants are refused). */
function decisionsOf(status: ConsentStatusView): DecisionsInForce {
  return Object.fromEntries(
    Object.entries(status.purposes).flatMap(([purpose, d]) =>
      !d || (status.erased && d.decision === 'granted')
        ? []
        : [[purpose, { decision: d.decision, hasEvidence: d.hasEvidence ?? false }]],
    ),
  );
}

async function currentStatus(
  context: HubClientContext,
  ledger: Ledger,
  rawEmail: string,
): Promise<ConsentStatusResult> {
  const email = emailSchema.parse(rawEmail);
  // Asked by another spelling of the address than the one recorded by an older version: the same person.
  await adoptLegacySubjectKeys(ledger, email, context.subjectKeySecret);
  // Asked by an address a rectification moved away from: the person's status is under their key now.
  const followed = await followSubjectLinks(ledger, subjectKeyFor(email, context.subjectKeySecret));
  const status = await consentStatusOfSubject(context, ledger, followed.subjectKey);
  const requestedUnder = requestedUnderOf(followed);
  return requestedUnder ? { ...status, requestedUnder } : status;
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
      return { ...(await withEvidence(withRetryStates(view, retrying), ledger)), from: 'workflow' };
    }
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  const stored = await consentStateFromLedger(ledger, subjectKey);
  const view = await withEvidence(
    {
      subjectKey,
      purposes: Object.fromEntries(
        Object.entries(stored.purposes).map(([purpose, decision]) => [
          purpose,
          { ...decision, systems: stored.outcomes[purpose as keyof typeof stored.outcomes] ?? {} },
        ]),
      ),
    },
    ledger,
  );
  return {
    ...view,
    systems: {
      dynamics: idleSystem(stored.written.dynamics),
      mailchimp: idleSystem(stored.written.mailchimp),
      google: idleSystem(stored.written.google),
    },
    inFlight: 0,
    refused: [],
    superseded: [],
    erased: stored.erased,
    from: 'ledger',
  };
}

/** Each decision in force with its change's evidence and recording time, read from the ledger in one query. */
async function withEvidence<V extends Pick<ConsentStatusView, 'subjectKey' | 'purposes'>>(
  view: V,
  ledger: Pick<Ledger, 'listConsentEvents'>,
): Promise<Omit<V, 'purposes'> & { purposes: Partial<Record<Purpose, DecisionWithEvidence>> }> {
  const events = new Map((await ledger.listConsentEvents(view.subjectKey)).map((event) => [event.id, event]));
  const purposes = Object.fromEntries(
    Object.entries(view.purposes).map(([purpose, decision]) => {
      const event = decision ? events.get(decision.eventId) : undefined;
      return [
        purpose,
        event ? { ...decision, recordedAt: event.recordedAt, evidence: event.evidence } : decision,
      ];
    }),
  );
  return { ...view, purposes };
}

function idleSystem(written: WrittenConsentState | undefined): ConsentStatusView['systems'][SystemName] {
  return { status: 'idle', attempts: 0, ...(written ? { written } : {}) };
}
