import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { AccessCategories } from '../config/access-categories.js';
import { runWithCallSignal } from '../connectors/call-signal.js';
import type {
  ChangeListRequest,
  ChangePage,
  ConsentReading,
  ConsentStateRequest,
  ConsentStateResult,
  ConsentVerification,
  DecisionsInForce,
  EraseResult,
  FindResult,
  SubjectIdentifiers,
} from '../connectors/connector.js';
import type {
  ConsentApplicationOutcome,
  ConsentChangeSignal,
  WrittenConsentState,
} from '../domain/consent.js';
import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import { consentStateFromLedger, type LedgerConsentState } from '../ledger/consent-state.js';
import type { ConsentAppendResult, Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import type { AccessExportStore } from '../privacy/access-export-store.js';
import { protectRecordIds } from '../privacy/keyed-id.js';
import { runForSubject, runWithVendorWordsWithheld } from '../privacy/redaction-context.js';
import type { SubjectDataKeys } from '../privacy/subject-data-keys.js';
import { createAccessActivities } from './access-activities.js';
import { currentAttempt } from './attempt.js';
import { reportConnectorCall } from './connector-call-report.js';
import { createConsentBatchActivities } from './consent-batch-activities.js';
import { recordConsentStateWritten } from './consent-state-record.js';
import { createErasureActivities } from './erasure-activities.js';
import { createGoogleConsentActivities } from './google-consent-activities.js';
import { createReconciliationActivities, type WorkStarter } from './reconciliation-activities.js';
import { createRectificationActivities } from './rectification-activities.js';
import { createRestrictionActivities } from './restriction-activities.js';
import { failureTypes, toActivityFailure, toBatchActivityFailure } from './vendor-failure.js';

// Defined beside the connector interface so connectors/ never imports upward; re-exported for callers.
export type { ConnectorName, ConnectorSet } from '../connectors/connector.js';

import type { ConnectorName, ConnectorSet } from '../connectors/connector.js';

/** Runs one connector call the activity way: heartbeats, one log line, errors as Temporal failures. */
export type ConnectorCall = <T>(
  input: ConnectorActivityInput,
  operation: string,
  run: (connector: NonNullable<ConnectorSet[ConnectorName]>) => Promise<T>,
) => Promise<T>;

/** What every connector activity receives. The email inside `subject` reaches Temporal only encrypted. */
export interface ConnectorActivityInput {
  system: ConnectorName;
  /** For logs and correlation: the only person identifier that may be logged. */
  subjectKey: string;
  subject: SubjectIdentifiers;
}

export interface ActivityDependencies {
  connectors: ConnectorSet;
  ledger: Ledger;
  logger: Logger;
  /** For reconciliation, which turns vendor emails into subject keys. */
  subjectKeySecret: string;
  /** How reconciliation starts repairs through the erasure and consent workflows. */
  starter: WorkStarter;
  /** The worker's subject data keys (its codec's), so destroying them also empties its cache. */
  subjectKeys?: SubjectDataKeys;
  /** Where access exports are written, encrypted (CONSENT_HUB_EXPORT_DIR); absent, access requests fail. */
  accessExports?: AccessExportStore;
  /** The categories an access report explains (CONSENT_HUB_ACCESS_CATEGORIES); the notice's by default. */
  accessCategories?: AccessCategories;
  /** People on a reconciliation page from which its withdrawals go through batch workflows (default 10). */
  reconcileBulkFrom?: number;
}

/**
 * The activities, bound to connectors the worker builds once at start-up. They only pick the connector, call
 * it, and translate its errors into Temporal's retry decisions; the decisions about order and waiting are
 * the workflows'.
 */
export function createActivities({
  connectors,
  ledger,
  logger,
  subjectKeySecret,
  starter,
  subjectKeys,
  accessExports,
  accessCategories,
  reconcileBulkFrom,
}: ActivityDependencies) {
  function withKeyedIds<R extends { records: { id: string }[] }>(system: ConnectorName, result: R): R {
    return { ...result, records: protectRecordIds(subjectKeySecret, system, result.records) };
  }

  async function call<T>(
    input: ConnectorActivityInput,
    operation: string,
    run: (connector: NonNullable<ConnectorSet[ConnectorName]>) => Promise<T>,
  ): Promise<T> {
    const connector = connectors[input.system];
    const log = logger.child({ system: input.system, operation, subjectKey: input.subjectKey });
    if (!connector) {
      const failure = ApplicationFailure.create({
        message: `${input.system} is not configured on this worker; set its environment variables and restart the worker`,
        type: failureTypes.notConfigured,
        nonRetryable: true,
        details: [
          { system: input.system, operation, reason: 'not configured on this worker', retryable: false },
        ],
      });
      reportConnectorCall({ system: input.system, operation, failure });
      throw failure;
    }
    const stopHeartbeat = keepHeartbeating();
    // Everything known about the person: their address, GA ids and the names the CRM holds for them.
    const subject = {
      email: input.subject.email || undefined,
      identifiers: [...input.subject.gaClientIds, ...input.subject.gaUserIds],
      names: input.subject.names ?? [],
    };
    try {
      // The connector's own log lines (vendor error reasons among them) are redacted for the subject too.
      const result = await runForSubject(subject, () =>
        runWithCallSignal(attemptSignal(), () => run(connector)),
      );
      log.info('connector call succeeded');
      reportConnectorCall({ system: input.system, operation });
      return result;
    } catch (error) {
      // The subject's own data is redacted first, in every form, before the failure reaches Temporal or a log.
      const failure = withAttempt(toActivityFailure(error, subject, { stepDeadlineMs: stepDeadline() }));
      log.warn({ err: failure }, 'connector call failed');
      reportConnectorCall({ system: input.system, operation, failure });
      throw failure;
    } finally {
      stopHeartbeat();
    }
  }

  /** A bulk call for many people: heartbeats, the attempt's signal, a whole-call failure as a Temporal failure. */
  async function runVendor<T>(system: ConnectorName, operation: string, run: () => Promise<T>): Promise<T> {
    const stopHeartbeat = keepHeartbeating();
    try {
      // The connector's own log lines quote the vendor's words, which may name any of the call's people.
      const result = await runWithVendorWordsWithheld(() => runWithCallSignal(attemptSignal(), run));
      reportConnectorCall({ system, operation });
      return result;
    } catch (error) {
      // A call for many people: no one person's names or data key apply, so the vendor's words are withheld.
      const failure = withAttempt(toBatchActivityFailure(error, { stepDeadlineMs: stepDeadline() }));
      logger.warn({ err: failure, system, operation }, 'bulk connector call failed');
      reportConnectorCall({ system, operation, failure });
      throw failure;
    } finally {
      stopHeartbeat();
    }
  }

  /** Whether an erasure of the subject is running now (its workflow id is `erasure-<subject key>`). */
  async function erasureRunning(subjectKey: string): Promise<boolean> {
    return (await starter.isRunning?.(`erasure-${subjectKey}`)) ?? false;
  }

  /** True when the decisions hold a grant that must not be written: the subject is erased or being erased. */
  async function grantsHeldBack(subjectKey: string, decisions: DecisionsInForce): Promise<boolean> {
    if (!Object.values(decisions).some((d) => d?.decision === 'granted')) return false;
    if ((await ledger.getTombstone(subjectKey)) !== undefined) return true;
    return erasureRunning(subjectKey);
  }

  return {
    ...createReconciliationActivities({
      ledger,
      logger,
      subjectKeySecret,
      starter,
      ...(reconcileBulkFrom !== undefined ? { bulkFrom: reconcileBulkFrom } : {}),
    }),
    ...createErasureActivities({
      ledger,
      logger,
      subjectKeySecret,
      call,
      starter,
      accessExports,
      subjectKeys,
    }),
    ...createAccessActivities({
      ledger,
      logger,
      subjectKeySecret,
      call,
      exports: accessExports,
      categories: accessCategories,
    }),
    ...createRestrictionActivities({ ledger, logger, subjectKeySecret, call }),
    ...createRectificationActivities({ ledger, logger, subjectKeySecret, call, starter }),
    ...createConsentBatchActivities({ connectors, ledger, logger, starter, runVendor }),
    ...createGoogleConsentActivities({ ledger, logger, subjectKeySecret, call }),

    /** One page of people changed in a vendor since the watermark, for reconciliation. */
    readChangesPage(input: {
      system: ConnectorName;
      subjectKey: string;
      request: ChangeListRequest;
    }): Promise<ChangePage> {
      return call({ ...input, subject: { email: '', gaClientIds: [], gaUserIds: [] } }, 'list', (c) => {
        if (!c.listChanges) throw new Error(`${input.system} cannot list changes`);
        return c.listChanges(input.request);
      });
    },

    // Vendor ids derived from the person (Mailchimp's subscriber hash, GA ids) leave the activity only keyed:
    // the workflow's state, its receipt and the ledger never hold them.
    // The result names its subject: it may hold GA ids from the CRM, so the codec seals it with their key.
    findInSystem(input: ConnectorActivityInput): Promise<FindResult & { subjectKey: string }> {
      return call(input, 'find', async (c) => ({
        ...withKeyedIds(input.system, await c.find(input.subject)),
        subjectKey: input.subjectKey,
      }));
    },
    eraseInSystem(input: ConnectorActivityInput): Promise<EraseResult> {
      return call(input, 'erase', async (c) => withKeyedIds(input.system, await c.erase(input.subject)));
    },
    readConsentInSystem(input: ConnectorActivityInput): Promise<ConsentReading> {
      return call(input, 'readConsent', async (c) =>
        withKeyedIds(input.system, await c.readConsent(input.subject)),
      );
    },
    /**
     * Whether any workflow of the subject is still open (erasure, consent, access, rectification, the
     * repairs reconciliation started): their payloads must stay readable while a worker may replay them.
     * Workers without the visibility client ask only for the erasure and consent workflows. `holders`: ids of
     * workflows that carry the subject's payloads but not their `SubjectKey` (a consent batch, its intake
     * buffer), asked by id.
     */
    async subjectWorkflowsOpen(subjectKey: string, holders: string[] = []): Promise<boolean> {
      for (const workflowId of holders) {
        if (await starter.isRunning?.(workflowId)) {
          logger.info({ subjectKey, open: [workflowId] }, "shredding waits for the subject's open workflows");
          return true;
        }
      }
      if (starter.openSubjectWorkflows) {
        const requests = (await ledger.listRequestDeadlines({ subjectKey })).map(({ kind, requestId }) => ({
          kind,
          requestId,
        }));
        const open = await starter.openSubjectWorkflows({ subjectKey, requests });
        if (open.length > 0)
          logger.info({ subjectKey, open }, "shredding waits for the subject's open workflows");
        return open.length > 0;
      }
      if (!starter.isRunning) return false;
      for (const workflowId of [`erasure-${subjectKey}`, `consent-${subjectKey}`]) {
        if (await starter.isRunning(workflowId)) return true;
      }
      return false;
    },

    /** Destroys the subject's data keys created up to `before`; their sealed payloads are unreadable after. */
    async destroySubjectDataKeys(input: { subjectKey: string; before: string }): Promise<number> {
      const destroyed = subjectKeys
        ? await subjectKeys.destroy(input.subjectKey, input.before)
        : await ledger.destroySubjectDataKeys(input.subjectKey, new Date().toISOString(), input.before);
      logger.info({ subjectKey: input.subjectKey, destroyed }, "subject's data keys destroyed");
      return destroyed;
    },

    /**
     * Marks consent changes completed in the ledger's request list (`requests`, `extend`): called by a
     * person's consent run as it ends, every change it took in being settled, so that a finished change is
     * terminal whether or not anyone read its state. Idempotent (the first completion time stays).
     */
    async completeConsentRequests(input: { requestIds: string[]; completedAt: string }): Promise<void> {
      for (const requestId of input.requestIds) await ledger.completeRequest(requestId, input.completedAt);
    },

    /** The decisions in force per purpose, from the ledger, and whether the subject has been erased. */
    loadConsentState(subjectKey: string): Promise<LedgerConsentState> {
      return consentStateFromLedger(ledger, subjectKey);
    },

    /**
     * Writes the state all decisions in force call for to one system, then records in the ledger what it
     * wrote and what each purpose shows there, in one step (a retry repeats an idempotent write). The
     * ledger keeps nothing once every system of the subject was erased.
     */
    async applyConsentStateInSystem(
      input: ConnectorActivityInput & {
        request: ConsentStateRequest;
        eventIds: Partial<Record<Purpose, string>>;
      },
    ): Promise<Omit<ConsentStateResult, 'records'> & { writtenAt: string }> {
      // Grants in force are not written while the person is being (or has been) erased: the erasure must
      // not find a member re-subscribed or created behind it. Withdrawals are always written.
      const request = (await grantsHeldBack(input.subjectKey, input.request.decisions))
        ? {
            ...input.request,
            decisions: Object.fromEntries(
              Object.entries(input.request.decisions).filter(([, d]) => d?.decision === 'withdrawn'),
            ),
          }
        : input.request;
      const { records, ...result } = await call(input, 'applyConsentState', (c) => {
        if (!c.applyConsentState) throw new Error(`${input.system} cannot write consent state`);
        return c.applyConsentState(input.subject, request);
      });
      const writtenAt = new Date().toISOString();
      await recordConsentStateWritten(ledger, {
        subjectKey: input.subjectKey,
        system: input.system as SystemName,
        eventIds: input.eventIds,
        result,
        writtenAt,
      });
      if (result.outcome === 'not_applicable') return { ...result, writtenAt };
      logger.debug(
        { subjectKey: input.subjectKey, system: input.system, records: records.length },
        'consent state written',
      );
      return { ...result, writtenAt };
    },

    /** Reads a system's consent fields now and compares them with what the decisions in force call for. */
    verifyConsentInSystem(
      input: ConnectorActivityInput & { decisions: DecisionsInForce },
    ): Promise<ConsentVerification> {
      return call(input, 'verifyConsent', (c) => {
        if (!c.verifyConsentState) throw new Error(`${input.system} cannot read consent state`);
        return c.verifyConsentState(input.subject, input.decisions);
      });
    },

    /**
     * Appends a batch of changes with their evidence, each idempotent by event id (the primary key decides,
     * so concurrent copies of one change are written once). A grant for an erased subject is refused; a
     * withdrawal is never refused, though once every system was erased the ledger keeps no copy of it.
     */
    async recordConsentChanges(input: {
      subjectKey: string;
      changes: ConsentChangeSignal[];
    }): Promise<{ results: Record<string, ConsentAppendResult>; erased: boolean }> {
      const results: Record<string, ConsentAppendResult> = {};
      // A grant never races an erasure: while one runs for the person, grants are refused (withdrawals
      // always go through); once it ends, its tombstone refuses them in the ledger's insert.
      const erasing =
        input.changes.some((c) => c.decision === 'granted') && (await erasureRunning(input.subjectKey));
      for (const change of input.changes) {
        if (erasing && change.decision === 'granted') {
          results[change.eventId] = { inserted: false, skipped: 'refused_during_erasure' };
          continue;
        }
        results[change.eventId] = await ledger.appendConsentEvent({
          id: change.eventId,
          subjectKey: input.subjectKey,
          purpose: change.purpose,
          decision: change.decision,
          occurredAt: change.occurredAt,
          recordedAt: change.recordedAt,
          source: change.source,
          evidence: change.evidence,
        });
      }
      const refused = Object.entries(results).filter(
        ([, r]) => r.skipped === 'refused_after_erasure' || r.skipped === 'refused_during_erasure',
      );
      if (refused.length > 0) {
        logger.warn(
          { subjectKey: input.subjectKey, eventIds: refused.map(([id]) => id) },
          'consent grant refused: the subject has been erased',
        );
      }
      const erased = (await ledger.getTombstone(input.subjectKey)) !== undefined;
      return { results, erased };
    },

    /** A system the workflow gave up on (failed, or closed by an operator): kept for status and reconciliation. */
    async recordSystemConsentFailure(input: {
      subjectKey: string;
      system: SystemName;
      outcome: Extract<ConsentApplicationOutcome, 'failed' | 'closed_by_operator'>;
      reason?: string;
      eventIds: Partial<Record<Purpose, string>>;
      previous?: WrittenConsentState;
    }): Promise<{ at: string }> {
      const at = new Date().toISOString();
      await ledger.recordSystemConsentState({
        subjectKey: input.subjectKey,
        system: input.system,
        outcome: input.outcome,
        reason: input.reason,
        fields: input.previous?.fields ?? {},
        eventIds: input.eventIds,
        purposes: Object.fromEntries(Object.keys(input.eventIds).map((p) => [p, input.outcome])),
        writtenAt: at,
      });
      return { at };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** When the current activity's scheduleToClose runs out (epoch ms), or undefined when it has none. */
function stepDeadline(): number | undefined {
  const { info } = Context.current();
  return info.scheduleToCloseTimeoutMs > 0
    ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs
    : undefined;
}

/**
 * Fires when Temporal cancels the attempt (a cancel request, the worker's shutdown past its grace time, a
 * heartbeat answered "timed out") or when the attempt's own start-to-close time is up, whichever is first:
 * connectors drop work still queued then, rather than send it after the attempt has ended.
 */
function attemptSignal(): AbortSignal {
  const context = Context.current();
  // The attempt started moments ago (this runs as the connector call begins), so its start-to-close
  // time counts from about now.
  const { startToCloseTimeoutMs } = context.info;
  if (!startToCloseTimeoutMs || !Number.isFinite(startToCloseTimeoutMs)) return context.cancellationSignal;
  return AbortSignal.any([context.cancellationSignal, AbortSignal.timeout(startToCloseTimeoutMs)]);
}

/**
 * A connector pages through records inside one call, so the activity heartbeats on a timer while it runs:
 * a worker that dies mid-page is noticed within the heartbeat timeout, not after the whole start-to-close.
 */
function keepHeartbeating(): () => void {
  const context = Context.current();
  const timeoutMs = context.info.heartbeatTimeoutMs;
  if (!timeoutMs) return () => {};
  const timer = setInterval(() => context.heartbeat(), Math.max(1000, Math.floor(timeoutMs / 3)));
  return () => clearInterval(timer);
}

/**
 * Adds the attempt that failed to a vendor failure's first detail (`attempt`), so the workflow counts the
 * vendor call attempts of a step that ended in failure (workflows/operator-gate.ts). Other errors reach
 * Temporal as they are; the workflow then counts that round as one attempt.
 */
function withAttempt(failure: unknown): unknown {
  const detail = failure instanceof ApplicationFailure ? failure.details?.[0] : undefined;
  if (detail && typeof detail === 'object') (detail as { attempt?: number }).attempt = currentAttempt();
  return failure;
}
