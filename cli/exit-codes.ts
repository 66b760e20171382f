import { CommanderError } from 'commander';
import { ZodError } from 'zod';
import { ConfigError } from '../config/parse-env.js';
import {
  GrantRefusedAfterErasure,
  InvalidRequestId,
  NotOnHold,
  OperatorActionRefused,
  RectificationRefused,
  RequestNotFound,
  TemporalUnreachable,
} from '../hub-client/request-errors.js';
import { LedgerUnavailable } from '../ledger/ledger-unavailable.js';
import { TemporalCliUnavailable } from '../temporal/temporal-cli.js';
import { UsageError } from './usage-error.js';

/**
 * The CLI's exit codes, the same for every command (README, "Exit codes"):
 * 0 done · 1 finished with failures · 2 bad input · 3 a system needs attention · 4 Temporal or the
 * ledger cannot be reached. `erase --wait` for a person on legal hold exits 0 (done) once their data is
 * restricted, printing `on_hold`: the request is where the law puts it until `release`, not failed.
 */
export const exitCodes = {
  done: 0,
  finishedWithFailures: 1,
  badInput: 2,
  needsAttention: 3,
  unreachable: 4,
} as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

let requested: ExitCode = exitCodes.done;

/** A command that finished but must not exit 0 (failures, needs attention) says so here. */
export function requestExitCode(code: ExitCode): void {
  requested = code;
}

/** Read and reset by the runner after each command. */
export function takeRequestedExitCode(): ExitCode {
  const code = requested;
  requested = exitCodes.done;
  return code;
}

/** `gaClientIds.0` → `--ga-client-id`: a zod path inside a command's input, named as the flag it came from. */
function flagFor(path: readonly PropertyKey[]): string {
  const head = String(path[0] ?? '');
  if (!head) return 'input';
  const singular = head.endsWith('Ids') ? head.slice(0, -1) : head;
  return `--${singular.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Turns anything a command threw into the lines a person reads and the exit code a script checks. Bad input
 * is one line per problem (`--email: not a valid email address`), never a stack trace, never an ENOENT.
 */
export function describeCliError(error: unknown): { code: ExitCode; lines: string[] } {
  if (error instanceof CommanderError) {
    // Help and --version end with code 0; every other commander refusal is a usage error.
    return { code: error.exitCode === 0 ? exitCodes.done : exitCodes.badInput, lines: [] };
  }
  if (error instanceof ConfigError) return { code: exitCodes.badInput, lines: [error.message] };
  if (
    error instanceof UsageError ||
    error instanceof InvalidRequestId ||
    error instanceof RequestNotFound ||
    error instanceof OperatorActionRefused ||
    error instanceof GrantRefusedAfterErasure ||
    error instanceof NotOnHold ||
    error instanceof RectificationRefused
  )
    return { code: exitCodes.badInput, lines: [error.message] };
  if (error instanceof ZodError) {
    return {
      code: exitCodes.badInput,
      lines: error.issues.map((issue) => `${flagFor(issue.path)}: ${issue.message}`),
    };
  }
  if (
    error instanceof TemporalUnreachable ||
    error instanceof LedgerUnavailable ||
    error instanceof TemporalCliUnavailable
  )
    return { code: exitCodes.unreachable, lines: [error.message] };
  if (unreachable(error)) {
    return {
      code: exitCodes.unreachable,
      lines: [`Temporal cannot be reached: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
  // Temporal wraps a rejected update or a failed call; the cause carries the words meant for people.
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return {
    code: exitCodes.finishedWithFailures,
    lines: [`${error instanceof Error ? error.message : String(error)}${cause}`],
  };
}

/**
 * gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4), directly or as the cause of a Temporal error. Checked by
 * shape (a numeric `code` and gRPC `metadata`) so that printing an error never loads the Temporal client.
 */
function unreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, metadata } = e as { code?: unknown; metadata?: unknown };
    if (metadata !== undefined && (code === 14 || code === 4)) return true;
  }
  return false;
}
