import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  isCancellation,
  patched,
  TimeoutFailure,
} from '@temporalio/workflow';
import { withheldOperatorText } from '../domain/close-reason-codes.js';
import type { SystemFailure, SystemName } from '../domain/erasure.js';
import type { OperatorLogEntry } from '../domain/operator.js';
import { actorIdError, isActorId } from '../domain/operator-id.js';
import { withheldTextMarker } from '../domain/redaction-names.js';

export type OperatorAction = { kind: 'retry' } | { kind: 'close'; reason: string };
/** Who acted when the update carried no operator (a client older than operator ids). */
const unnamedOperator = 'unknown';
/** `interrupted`: the step stopped waiting for an operator or a vendor because `interrupt` came true. */
export type StepOutcome<T> = { done: true; value: T } | { done: false; interrupted?: true };

/** The part of a per-system state the gate reads and writes; erasure and consent states both have it. */
export interface GatedState {
  status: string;
  attempts: number;
  failure?: SystemFailure;
  closedReason?: string;
  completedAt?: string;
  /** While the step waits for a vendor: when it tries again. */
  resumesAt?: string;
}

/** The failure type activities raise when a vendor asks to wait past the step's deadline (vendor-failure.ts). */
const vendorAskedToWait = 'VendorAskedToWait';

/**
 * Patch id (Temporal's `patched`, asked only when a wait follows a wait): a vendor that asks to wait again
 * right after a wait, when the step got submissions accepted in between (its failure's `progress`, such as
 * Google's next day of user deletions for a person with more GA ids than the daily quota), is waited for
 * again, so the step finishes in as many days as the quota needs. Before it: the second wait went to an
 * operator, and the step never finished on its own.
 */
export const vendorWaitAfterProgressPatch = 'vendor-wait-after-progress';

/**
 * Patch id (asked only when a wait follows a wait the first patch would send to an operator): the step's
 * progress is counted across every attempt since the last wait, by the total of submissions the vendor has
 * accepted (its failure's `submittedTotal`), not only by the attempt that met the quota. After a reset, an
 * attempt that got some deletions accepted and then a 503, retried into the quota again, made progress:
 * before this patch it went to an operator as "still refused after the wait", a false "needs attention".
 */
export const vendorWaitAfterProgressAcrossAttemptsPatch = 'vendor-wait-after-progress-across-attempts';

/**
 * Patch id (asked only in a close update's handler): a close reason is kept only once the CRM's names for the
 * person were read (`OperatorGate.namesChecked`); when they cannot be, the reason is withheld (its code kept,
 * `withheldOperatorText`), as the hub's client does. Before it, a close sent straight to Temporal (past the
 * client) was kept redacted of the names known so far only, with Dynamics down of the address alone.
 */
export const closeReasonNamesCheckedPatch = 'close-reason-names-checked';

/**
 * Patch id (asked only when a vendor step fails, in a workflow whose gate can read the CRM's names): a vendor's
 * failure is kept in the state (and so in the status views, the receipt and the ledger) only once the CRM's
 * names for the person were read (`OperatorGate.namesChecked`), redacted of them; when they cannot be, the
 * vendor's words are withheld (`withheldTextMarker`; type, status and vendor code kept). Before it, a
 * failure was kept as the activity redacted it, of the names it was given: a Mailchimp or Google step that
 * ran before the CRM was read (issue 16), or a consent lane, which never carries them, kept a name in clear.
 */
export const vendorFailureNamesCheckedPatch = 'vendor-failure-names-checked';

/**
 * Runs a system's step until it succeeds; when it fails for good, parks the system in "needs attention"
 * and waits durably for an operator to retry or close it. Nobody acting within `operatorDeadline` records
 * the system as failed, so every request still reaches a terminal state.
 *
 * A vendor that asks to wait longer than the step may retry (Google's daily quota resets at midnight
 * Pacific) is waited for here with a durable timer (`waiting_for_vendor`), then the step runs again; only a
 * second such answer right after the wait goes to an operator. An operator may retry or close a waiting
 * system too (when the quota was raised, say).
 */
export class OperatorGate {
  private readonly pending = new Map<SystemName, OperatorAction>();
  /** Every accepted retry and close, in order: the request's operator log, carried into its receipt. */
  readonly log: OperatorLogEntry[] = [];
  /** Applied to every operator text before it is kept (operator-text.ts sets it to the subject's redaction). */
  redactText: (text: string) => string = (text) => text;
  /**
   * Reads the CRM's names for the person when not read yet, and answers whether they are known (operator-text.ts
   * sets it); unset, texts are kept redacted of what `redactText` knows.
   */
  namesChecked?: () => Promise<boolean>;

  constructor(
    private readonly operatorDeadline: string | number,
    private readonly onChange: () => void,
  ) {}

  /**
   * Called by the workflows' close update handlers, after their validators passed: the reason is kept (redacted)
   * once the CRM's names for the person are read, withheld when they cannot be (`closeReasonNamesCheckedPatch`),
   * whoever sent the update. `stillValid` runs again after the names were read (it throws when the system no
   * longer needs an operator: nothing is recorded then); `answer` is what the update returns.
   */
  close<R>(
    system: SystemName,
    reason: string,
    operator: string | undefined,
    stillValid: () => void,
    answer: () => R,
  ): R | Promise<R> {
    if (!this.namesChecked || !patched(closeReasonNamesCheckedPatch)) {
      this.request(system, { kind: 'close', reason }, operator);
      return answer();
    }
    const check = this.namesChecked;
    return (async () => {
      const checked = await check();
      // The system may have moved on while the CRM was asked (a vendor wait ended, another close came).
      stillValid();
      this.request(system, { kind: 'close', reason }, operator, { withhold: !checked });
      return answer();
    })();
  }

  /** Called by the workflow's update handlers, after their validators passed; records who and when. */
  request(
    system: SystemName,
    given: OperatorAction,
    operator: string | undefined,
    options: { withhold?: boolean } = {},
  ): void {
    // Every text an operator typed (a reason, a note) is redacted before the state, log or receipt hold it,
    // or withheld when the names it is to be redacted of cannot be read.
    const keep = (text: string) => (options.withhold ? withheldOperatorText(text) : this.redactText(text));
    const action = Object.fromEntries(
      Object.entries(given).map(([key, value]) => [
        key,
        key !== 'kind' && typeof value === 'string' ? keep(value) : value,
      ]),
    ) as OperatorAction;
    this.pending.set(system, action);
    this.log.push({
      action: action.kind,
      system,
      operator: operator ?? unnamedOperator,
      at: new Date().toISOString(),
      ...(action.kind === 'close' ? { reason: action.reason } : {}),
    });
  }

  /**
   * With `interrupt` (a legal hold that reached the erasure, say), a step waiting for an operator or for a
   * vendor stops waiting when it comes true: the state goes back to `pending` and the outcome is
   * `{ done: false, interrupted: true }`, so the caller decides what the system does next.
   */
  async run<T>(
    system: SystemName,
    state: GatedState,
    work: () => Promise<T>,
    interrupt?: () => boolean,
  ): Promise<StepOutcome<T>> {
    const interrupted = (): StepOutcome<T> => {
      state.status = 'pending';
      state.resumesAt = undefined;
      this.onChange();
      return { done: false, interrupted: true };
    };
    let waitedForVendor = false;
    // The vendor's total of accepted submissions when the step last waited for it (its failure's
    // `submittedTotal`): a total that grew since is progress, whichever attempt made it.
    let totalAtLastWait: number | undefined;
    // This step's vendor call attempts only: a system's earlier steps (Dynamics plans, then deletes) are
    // not retries of this one. Each round counts 1, plus the retries its activities reported (their
    // results' and failures' `attempt`, see `countAttempt`); results without one (histories from before
    // activities reported it) count 1 per round. The status views add the attempts of an activity still
    // retrying (hub-client/pending-activities.ts); the receipt keeps this count.
    let earlierRounds = 0;
    for (;;) {
      state.status = 'running';
      state.attempts = earlierRounds + 1;
      this.onChange();
      try {
        const value = await work();
        state.failure = undefined;
        return { done: true, value };
      } catch (error) {
        if (isCancellation(error)) throw error;
        countAttempt(state, attemptOfFailure(error));
        earlierRounds = state.attempts;
        const wait = vendorWait(error);
        let action: OperatorAction | undefined;
        // A second wait in a row goes to an operator, unless the step moved on since the first one.
        if (
          wait &&
          (!waitedForVendor ||
            (wait.progress > 0 && patched(vendorWaitAfterProgressPatch)) ||
            (wait.submittedTotal !== undefined &&
              totalAtLastWait !== undefined &&
              wait.submittedTotal > totalAtLastWait &&
              patched(vendorWaitAfterProgressAcrossAttemptsPatch)))
        ) {
          const kept = this.keepFailure(describeFailure(error));
          // Awaited only when the hook must wait: an await of a plain value would reorder this run's commands.
          const failure = kept instanceof Promise ? await kept : kept;
          waitedForVendor = true;
          totalAtLastWait = wait.submittedTotal;
          state.status = 'waiting_for_vendor';
          state.resumesAt = wait.resumeAt;
          state.failure = failure;
          this.onChange();
          action = await this.actionWithin(system, wait.retryAfterMs, interrupt);
          state.resumesAt = undefined;
          if (!action && interrupt?.()) return interrupted();
          if (!action) continue;
        } else {
          const kept = this.keepFailure(describeFailure(error, waitedForVendor));
          const failure = kept instanceof Promise ? await kept : kept;
          state.status = 'needs_attention';
          state.failure = failure;
          this.onChange();
          action = await this.actionWithin(system, this.operatorDeadline, interrupt);
          if (!action && interrupt?.()) return interrupted();
          if (!action) {
            state.status = 'failed';
            this.finish(state);
            return { done: false };
          }
        }
        if (action.kind === 'close') {
          state.status = 'closed_by_operator';
          state.closedReason = action.reason;
          this.finish(state);
          return { done: false };
        }
        waitedForVendor = false;
      }
    }
  }

  /**
   * A vendor's failure as the state keeps it (`vendorFailureNamesCheckedPatch`): its words redacted of the
   * CRM's names, read first when they are not known yet, or withheld when they cannot be read. A plain value
   * (no promise) when the gate cannot read names or the run predates the patch.
   */
  private keepFailure(failure: SystemFailure): SystemFailure | Promise<SystemFailure> {
    if (!this.namesChecked || !patched(vendorFailureNamesCheckedPatch)) return failure;
    const check = this.namesChecked;
    return (async () => {
      const checked = await check();
      return { ...failure, reason: checked ? this.redactText(failure.reason) : withheldTextMarker };
    })();
  }

  finish(state: GatedState): void {
    state.completedAt = new Date().toISOString();
    this.onChange();
  }

  /** The operator's action on the system, or undefined when none came within `timeout` (a durable timer). */
  private async actionWithin(
    system: SystemName,
    timeout: string | number,
    interrupt: () => boolean = () => false,
  ): Promise<OperatorAction | undefined> {
    const acted = await condition(() => this.pending.has(system) || interrupt(), timeout);
    const action = this.pending.get(system);
    this.pending.delete(system);
    return acted ? action : undefined;
  }
}

/**
 * Adds the retries of one vendor activity to its system's running count: an activity that succeeded (or
 * failed for good) on attempt n made n - 1 calls more than the round's one. `attempt` is the activity's
 * own report (activities/attempt.ts); undefined (an older history) adds nothing.
 */
export function countAttempt(state: GatedState, attempt: unknown): void {
  if (typeof attempt === 'number' && Number.isInteger(attempt) && attempt > 1) state.attempts += attempt - 1;
}

/** Awaits a vendor activity and counts the attempt its result reports (`attempt`) into `state`. */
export async function counted<T>(state: GatedState, call: Promise<T>): Promise<T> {
  const result = await call;
  countAttempt(state, (result as { attempt?: unknown } | undefined)?.attempt);
  return result;
}

/** The attempt a failed activity reported in its failure's first detail (activities/create-activities.ts). */
function attemptOfFailure(error: unknown): number | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const attempt = (cause.details?.[0] as { attempt?: unknown } | undefined)?.attempt;
  return typeof attempt === 'number' ? attempt : undefined;
}

/** How long a vendor asked to wait, when the failure is a `VendorAskedToWait`. */
function vendorWait(
  error: unknown,
): { retryAfterMs: number; resumeAt: string; progress: number; submittedTotal?: number } | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure) || cause.type !== vendorAskedToWait) return undefined;
  const details = (cause.details?.[0] ?? {}) as {
    retryAfterMs?: unknown;
    resumeAt?: unknown;
    progress?: unknown;
    submittedTotal?: unknown;
  };
  if (typeof details.retryAfterMs !== 'number' || typeof details.resumeAt !== 'string') return undefined;
  return {
    retryAfterMs: Math.max(1, details.retryAfterMs),
    resumeAt: details.resumeAt,
    // Submissions the failing attempt got accepted before the vendor asked to wait (vendor-failure.ts).
    progress: typeof details.progress === 'number' ? details.progress : 0,
    // The vendor's total accepted for the step across attempts and days (absent in older histories).
    ...(typeof details.submittedTotal === 'number' ? { submittedTotal: details.submittedTotal } : {}),
  };
}

export function assertNeedsAttention(
  states: Partial<Record<SystemName, GatedState>>,
  system: SystemName,
): void {
  const state = states[system];
  if (!state) throw new Error(`unknown system ${JSON.stringify(system)}`);
  if (state.status !== 'needs_attention' && state.status !== 'waiting_for_vendor') {
    throw new Error(`${system} does not need attention (its status is ${state.status})`);
  }
}

/** The mark privacy/payload-converter.cjs sets on a value whose payload was never encrypted. */
const sentUnencoded = Symbol.for('consent-hub.sent-unencoded');

/**
 * Refuses update input that reached the workflow unencrypted (sent past the hub's codec: `temporal workflow
 * update` without `--codec-endpoint`): it would sit in the history in clear, under no key the person's
 * erasure destroys. A validator's refusal records nothing; the same update sent through the hub's client
 * (or the CLI with the codec server) is accepted.
 */
export function assertSentEncoded(input: unknown): void {
  if (
    input !== null &&
    typeof input === 'object' &&
    (input as Record<symbol, unknown>)[sentUnencoded] === true
  )
    throw new Error(
      "the update was sent without the hub's payload codec (its input would stay in the history unencrypted); send it through consent-hub, or with --codec-endpoint",
    );
}

/**
 * The validator of every operator retry and close update: refuses input sent without the hub's codec, refuses an `operator` that is not an operator or
 * system id (a name or an address sent straight to Temporal, past the hub's client), then a system that
 * does not need attention. A refused update writes nothing to the history, the status or the receipt.
 * `operator` may be absent (clients older than operator ids); it is then recorded as unnamed.
 */
export function assertOperatorAction(
  states: Partial<Record<SystemName, GatedState>>,
  update: { system: SystemName; operator?: unknown },
): void {
  assertSentEncoded(update);
  if (update.operator !== undefined && !isActorId(update.operator)) {
    throw new Error(`operator ${actorIdError}`);
  }
  assertNeedsAttention(states, update.system);
}

/** What an operator needs to act: the vendor's reason and status, or that retries ran out of time. */
export function describeFailure(error: unknown, afterWaiting = false): SystemFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { reason?: string; status?: number; vendorCode?: string };
    const reason = details.reason ?? cause.message;
    if (cause.type === vendorAskedToWait) {
      return {
        type: vendorAskedToWait,
        reason: afterWaiting
          ? `the vendor still refused after the wait it asked for: ${reason}`
          : `the vendor asked to wait; trying again then: ${reason}`,
        status: details.status,
        vendorCode: details.vendorCode,
      };
    }
    // A retryable failure reaching the workflow means the retries ran out of time (scheduleToClose).
    const outlasted = !cause.nonRetryable && cause.type === 'RetryableVendorError';
    return {
      type: outlasted ? 'RetriesOutlastedDeadline' : (cause.type ?? 'ApplicationFailure'),
      reason: outlasted ? `still failing after the attention deadline; last error: ${reason}` : reason,
      status: details.status,
      vendorCode: details.vendorCode,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { type: 'RetriesOutlastedDeadline', reason: `timed out (${String(cause.timeoutType)})` };
  }
  return { type: 'Unknown', reason: error instanceof Error ? error.message : String(error) };
}
