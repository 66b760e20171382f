import { setTimeout as delay } from 'node:timers/promises';
import type { RetryState } from '../domain/operator.js';
import { retryLine } from './erasure-output.js';
import { exitCodes, requestExitCode } from './exit-codes.js';
import { print, printJson } from './hub-context.js';

/** How often `--wait` looks at the workflow. */
const pollEveryMs = 1000;

/**
 * How long a look at the status that failed waits for the request's result before the failure stands. A
 * request that finished since the last look may no longer answer a query (a finished erasure is replayed
 * to answer one, and its input cannot be decoded once the person's data keys are shredded, a moment after
 * it ends); its result is then on its way, slower on a loaded machine, and is the true answer.
 */
export const resultAfterFailedLookMs = 30_000;

/** What `--wait` needs of a request's live status: its state and each system's. */
export interface FollowedStatus {
  status: string;
  systems: Record<
    string,
    { status: string; attempts: number; failure?: { reason: string }; retrying?: RetryState }
  >;
}

/**
 * `<command> --wait` for any request kind (erase, rectify): follows the workflow until its receipt, printing
 * one line per system whenever its state changes (status, attempt, last failure, next retry). When a system
 * needs attention it prints the status (with the retry and close commands) and exits 3, unless
 * `waitThroughAttention`; a status `stopAt` accepts (a legal hold) ends the wait with exit 0. The receipt
 * goes to `finish`; a failed workflow is thrown. A look at the status that fails ends with the result when
 * it comes within `resultAfterFailedLookMs`, else throws that failure. The caller has printed the request id
 * first.
 */
export async function followRequest<Receipt, Status extends FollowedStatus>(options: {
  result: Promise<Receipt>;
  liveStatus: () => Promise<Status>;
  json: boolean;
  waitThroughAttention: boolean;
  printStatus: (status: Status) => void;
  finish: (receipt: Receipt) => void | Promise<void>;
  stopAt?: (status: Status) => boolean;
  /**
   * The request's deadline (as its start answered it): a wait that stops before the receipt (attention, a
   * hold) shows it with the status, in `--json` as `receivedAt` and `dueAt` beside the status's fields.
   */
  deadline?: { receivedAt: string; dueAt: string };
  /** Milliseconds; `resultAfterFailedLookMs` unless a test shortens it. */
  resultAfterFailedLookMs?: number;
}): Promise<void> {
  const result = options.result.then(
    (receipt) => ({ receipt }),
    (error: unknown) => ({ error }),
  );
  const shown = new Map<string, string>();
  const deadline = options.deadline;
  const show = (status: Status) => {
    if (options.json) printJson(deadline ? { ...status, ...deadline } : status);
    else {
      print('');
      options.printStatus(status);
      if (deadline) print(`  received ${deadline.receivedAt}, due ${deadline.dueAt}`);
    }
  };
  const settle = async (finished: { receipt: Receipt } | { error: unknown }) => {
    if ('error' in finished) throw finished.error;
    await options.finish(finished.receipt);
  };
  for (;;) {
    const finished = await Promise.race([result, delay(pollEveryMs).then(() => undefined)]);
    if (finished) return settle(finished);
    let status: Status;
    try {
      status = await options.liveStatus();
    } catch (error) {
      const wait = options.resultAfterFailedLookMs ?? resultAfterFailedLookMs;
      const late = await Promise.race([result, delay(wait).then(() => undefined)]);
      if (!late) throw error;
      return settle(late);
    }
    if (!options.json) showProgress(status, shown);
    if (options.stopAt?.(status)) {
      show(status);
      return;
    }
    if (status.status === 'needs_attention' && !options.waitThroughAttention) {
      show(status);
      requestExitCode(exitCodes.needsAttention);
      return;
    }
  }
}

/** One line per system whenever its state changes: status, attempt, last failure, next retry. */
function showProgress(status: FollowedStatus, shown: Map<string, string>): void {
  for (const [system, state] of Object.entries(status.systems)) {
    const detail = state.retrying
      ? retryLine(state.retrying)
      : state.failure
        ? state.failure.reason
        : state.attempts > 1
          ? `attempt ${state.attempts}`
          : '';
    const line = `  ${system.padEnd(10)} ${state.status}${detail ? `  ${detail}` : ''}`;
    if (shown.get(system) === line) continue;
    shown.set(system, line);
    print(line);
  }
}
