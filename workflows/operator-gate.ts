import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  isCancellation,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { SystemFailure, SystemName } from '../domain/erasure.js';
import type { OperatorLogEntry } from '../domain/operator.js';

export type OperatorAction = { kind: 'retry' } | { kind: 'close'; reason: string };
/** Who acted when the update carried no operator (a client older than operator ids). */
const unnamedOperator = 'unknown';
export type StepOutcome<T> = { done: true; value: T } | { done: false };

/** The part of a per-system state the gate reads and writes; erasure and consent states both have it. */
export interface GatedState {
  status: string;
  attempts: number;
  failure?: SystemFailure;
  closedReason?: string;
  completedAt?: string;
}

/**
 * Runs a system's step until it succeeds; when it fails for good, parks the system in "needs attention"
 * and waits durably for an operator to retry or close it. Nobody acting within `operatorDeadline` records
 * the system as failed, so every request still reaches a terminal state.
 */
export class OperatorGate {
  private readonly pending = new Map<SystemName, OperatorAction>();
  /** Every accepted retry and close, in order: the request's operator log, carried into its receipt. */
  readonly log: OperatorLogEntry[] = [];

  constructor(
    private readonly operatorDeadline: string | number,
    private readonly onChange: () => void,
  ) {}

  /** Called by the workflow's update handlers, after their validators passed; records who and when. */
  request(system: SystemName, action: OperatorAction, operator: string | undefined): void {
    this.pending.set(system, action);
    this.log.push({
      action: action.kind,
      system,
      operator: operator ?? unnamedOperator,
      at: new Date().toISOString(),
      ...(action.kind === 'close' ? { reason: action.reason } : {}),
    });
  }

  async run<T>(system: SystemName, state: GatedState, work: () => Promise<T>): Promise<StepOutcome<T>> {
    for (;;) {
      state.status = 'running';
      state.attempts += 1;
      this.onChange();
      try {
        const value = await work();
        state.failure = undefined;
        return { done: true, value };
      } catch (error) {
        if (isCancellation(error)) throw error;
        state.status = 'needs_attention';
        state.failure = describeFailure(error);
        this.onChange();
        const acted = await condition(() => this.pending.has(system), this.operatorDeadline);
        const action = this.pending.get(system);
        this.pending.delete(system);
        if (!acted || !action) {
          state.status = 'failed';
          this.finish(state);
          return { done: false };
        }
        if (action.kind === 'close') {
          state.status = 'closed_by_operator';
          state.closedReason = action.reason;
          this.finish(state);
          return { done: false };
        }
      }
    }
  }

  finish(state: GatedState): void {
    state.completedAt = new Date().toISOString();
    this.onChange();
  }
}

export function assertNeedsAttention(
  states: Partial<Record<SystemName, GatedState>>,
  system: SystemName,
): void {
  const state = states[system];
  if (!state) throw new Error(`unknown system ${JSON.stringify(system)}`);
  if (state.status !== 'needs_attention') {
    throw new Error(`${system} does not need attention (its status is ${state.status})`);
  }
}

/** What an operator needs to act: the vendor's reason and status, or that retries ran out of time. */
export function describeFailure(error: unknown): SystemFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as { reason?: string; status?: number; vendorCode?: string };
    const reason = details.reason ?? cause.message;
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
