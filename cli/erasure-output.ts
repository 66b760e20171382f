import type {
  ErasureReceipt,
  ErasureRequestedUnder,
  ErasureRestriction,
  ErasureStatusView,
  MovedRecordsErasure,
  SystemErasureState,
} from '../domain/erasure.js';
import type { ErasureListing } from '../domain/erasure-listing.js';
import type { OperatorLogEntry, RetryState } from '../domain/operator.js';
import { print } from './hub-context.js';

/** `attempt 17; last failure HTTP 503 Service Unavailable at …; next retry at …` */
export function retryLine(retrying: RetryState): string {
  const parts = [`attempt ${retrying.attempt}`];
  if (retrying.lastFailure) {
    const status = retrying.lastFailure.status ? `HTTP ${retrying.lastFailure.status} ` : '';
    const at = retrying.lastFailure.at ? ` at ${retrying.lastFailure.at}` : '';
    parts.push(`last failure ${status}${retrying.lastFailure.reason}${at}`);
  }
  if (retrying.nextRetryAt) parts.push(`next retry at ${retrying.nextRetryAt}`);
  return parts.join('; ');
}

/**
 * A record as the CLI names it: `member 5f2… in 8a1c…` (kind, id, then the container, a Mailchimp audience id,
 * when there is one). The member id is the same in every audience the person is in, so without the audience
 * two lines name two records alike.
 */
export function recordName(r: { kind: string; id: string; container?: string }): string {
  return `${r.kind} ${r.id}${r.container ? ` in ${r.container}` : ''}`;
}

export function systemLine(name: string, state: SystemErasureState): string {
  const audit = (removed: boolean | undefined) =>
    removed === undefined ? '' : removed ? ' (audit history deleted)' : ' (audit history kept)';
  const records = state.records.map((r) => `${recordName(r)}${audit(r.auditHistoryRemoved)}`);
  return gatedSystemLine(name, state, records.length > 0 ? records.join(', ') : '');
}

/**
 * One system of any request kind: its status, then why it is closed, the live retry (newer than a failure an
 * earlier round left), the failure, or `done` (what the step did); then its attempts once there were several.
 */
export function gatedSystemLine(
  name: string,
  state: {
    status: string;
    attempts: number;
    closedReason?: string;
    failure?: { reason: string; status?: number };
    retrying?: RetryState;
  },
  done: string,
): string {
  const detail =
    state.status === 'closed_by_operator'
      ? `closed: ${state.closedReason}`
      : state.retrying
        ? retryLine(state.retrying)
        : state.failure
          ? `${state.failure.reason}${state.failure.status ? ` (HTTP ${state.failure.status})` : ''}`
          : done;
  const attempts = state.retrying ? '' : state.attempts > 1 ? ` [${state.attempts} attempts]` : '';
  return `  ${name.padEnd(10)} ${state.status.padEnd(19)} ${detail}${attempts}`;
}

export function operatorLine(entry: OperatorLogEntry): string {
  return `${entry.at}  ${entry.action} ${entry.system} by ${entry.operator}${entry.reason ? `: ${entry.reason}` : ''}`;
}

/**
 * An erasure's receipt. `movedNow` gives, by request id, how each erasure of moved records stands now
 * (see printMovedRecords): this receipt's `completed` speaks for its own address only.
 */
export function printReceipt(receipt: ErasureReceipt, movedNow: Record<string, string> = {}): void {
  print(`Erasure receipt ${receipt.requestId}`);
  print(`  subject key  ${receipt.subjectKey}`);
  print(
    `  requested    ${receipt.requestedAt} by ${receipt.requestedBy} (${receipt.reason}${receipt.reasonNote ? `: ${receipt.reasonNote}` : ''})`,
  );
  print(`  completed    ${receipt.completedAt}  outcome: ${receipt.outcome}`);
  if (receipt.requestedUnder) printRequestedUnder(receipt.requestedUnder);
  for (const moved of receipt.movedRecords ?? [])
    printMovedRecords(moved, moved.erasureRequestId ? movedNow[moved.erasureRequestId] : undefined);
  if (receipt.restriction) printRestriction(receipt.restriction);
  for (const [name, state] of Object.entries(receipt.systems)) {
    print(systemLine(name, state));
    if (state.deletedWithRecords) {
      const counts = Object.entries(state.deletedWithRecords).map(([kind, n]) => `${n} ${kind}`);
      print(`    deleted with the records by ${name} (counted before the delete): ${counts.join(', ')}`);
    }
  }
  for (const entry of receipt.operatorActions ?? []) print(`  operator     ${operatorLine(entry)}`);
}

/** A request made under an address a rectification moved away from: the key asked for, each re-key. */
export function printRequestedUnder(under: ErasureRequestedUnder): void {
  if (under.rekeys.length > 0)
    print(`  asked under  an earlier address (subject ${under.subjectKey}), re-keyed since:`);
  for (const rekey of under.rekeys)
    print(`    ${rekey.at}  ${rekey.from} -> ${rekey.to}  by rectification ${rekey.rectificationRequestId}`);
  const not = under.notFollowed;
  if (not)
    print(
      `  not followed  ${not.from} -> ${not.to} (rectification ${not.rectificationRequestId}, ${not.at}): subject ${not.from} has records of its own since, so the request acted on it`,
    );
  if (under.note) print(`    ${under.note}`);
}

/**
 * Another address a half-done rectification moved the person's records to or from, and its erasure: a
 * request of its own, with its own receipt, so this says which and, when `now` is given (its live status or
 * its receipt's outcome, read by the caller), how it stands; never that it erased what it may not have yet.
 */
export function printMovedRecords(moved: MovedRecordsErasure, now?: string): void {
  const erasure = moved.erasureRequestId
    ? `erased by its own erasure ${moved.erasureRequestId}${now ? ` (now: ${now})` : ''}, see consent-hub receipt ${moved.erasureRequestId}`
    : (moved.note ?? 'not erased');
  print(
    `  moved        ${moved.systems.join(', ')} records moved by rectification ${moved.rectificationRequestId} (subject ${moved.subjectKey}): ${erasure}`,
  );
}

/** A held person's restriction: the hold, what each system did, and the release once it came. */
export function printRestriction(restriction: ErasureRestriction): void {
  print(`  on hold      since ${restriction.hold.placedAt} (${restriction.hold.reason})`);
  // A hold placed while the erasure ran: what was already gone is part of the evidence, not only what the
  // restriction then touched (the JSON receipt has it as arrivedDuringErasure.deletedBefore).
  const arrived = restriction.arrivedDuringErasure;
  if (arrived) {
    print(`  hold reached the running erasure at ${arrived.noticedAt}; deleted before it:`);
    const before = Object.entries(arrived.deletedBefore);
    if (before.length === 0) print('    nothing');
    for (const [name, done] of before) {
      if (!done) continue;
      const records = done.records.map((r) => `${recordName(r)} (${r.result})`);
      const more = done.recordsTruncated ? ` (first ${done.records.length} of ${done.recordCount})` : '';
      print(`    ${name.padEnd(10)} ${String(done.recordCount).padEnd(19)} ${records.join(', ')}${more}`);
    }
  }
  print(
    `  restricted   ${restriction.restrictedAt ?? 'in progress'}${restriction.outcome ? `  outcome: ${restriction.outcome}` : ''}`,
  );
  for (const [name, state] of Object.entries(restriction.systems)) {
    const records = state.records.map(
      (r) => `${recordName(r)}: ${r.result}${r.actions.length ? ` (${r.actions.join(', ')})` : ''}`,
    );
    const detail = state.note ?? state.failure?.reason ?? state.closedReason ?? records.join('; ');
    print(`    ${name.padEnd(10)} ${state.status.padEnd(19)} ${detail}`);
  }
  if (restriction.released) {
    print(
      `  released     ${restriction.released.at} by ${restriction.released.by} (${restriction.released.reason}); then erased:`,
    );
  }
}

/**
 * The retry and close commands for each system that waits for an operator (`needs_attention`, or
 * `waiting_for_vendor`, which an operator may retry too), naming the system; `<name>` only when the
 * status names none.
 */
export function attentionHint(requestId: string, systems: Record<string, { status: string }> = {}): string[] {
  const waiting = Object.entries(systems)
    .filter(([, state]) => state.status === 'needs_attention' || state.status === 'waiting_for_vendor')
    .map(([name]) => name);
  return (waiting.length > 0 ? waiting : ['<name>']).flatMap((system) => [
    `Fix the cause, then: consent-hub retry ${requestId} --system ${system} [--operator <id>]`,
    `or give up on it:     consent-hub close ${requestId} --system ${system} --reason <text> [--operator <id>]`,
  ]);
}

export function printStatus(status: ErasureStatusView): void {
  print(`Erasure ${status.requestId} is ${status.status}`);
  print(`  subject key  ${status.subjectKey}`);
  if (status.restriction) printRestriction(status.restriction);
  if (status.status === 'on_hold')
    print('  waiting for the hold to be released: consent-hub release --email <address>');
  for (const [name, state] of Object.entries(status.systems)) print(systemLine(name, state));
  for (const entry of status.operatorActions ?? []) print(`  operator     ${operatorLine(entry)}`);
  if (status.status === 'needs_attention') {
    print('');
    for (const line of attentionHint(status.requestId, status.systems)) print(line);
  }
}

export function printListing(listings: ErasureListing[]): void {
  if (listings.length === 0) {
    print('No erasures match.');
    return;
  }
  for (const l of listings) {
    const state = l.outcome ?? l.status;
    print(`${l.requestId}  ${state.padEnd(23)} ${l.startedAt}  subject ${l.subjectKey}`);
    for (const item of l.attention) {
      print(`    ${item.system.padEnd(10)} ${item.status ? `HTTP ${item.status} ` : ''}${item.reason}`);
    }
    if (l.note) print(`    ${l.note}`);
  }
}
