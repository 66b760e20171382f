import type { ErasureReceipt, ErasureStatusView, SystemErasureState } from '../domain/erasure.js';
import type { ErasureListing } from '../hub-client/erasures.js';
import { print } from './hub-context.js';

function systemLine(name: string, state: SystemErasureState): string {
  const records = state.records.map((r) => `${r.kind} ${r.id}${r.container ? ` in ${r.container}` : ''}`);
  const detail =
    state.status === 'closed_by_operator'
      ? `closed: ${state.closedReason}`
      : state.failure
        ? `${state.failure.reason}${state.failure.status ? ` (HTTP ${state.failure.status})` : ''}`
        : records.length > 0
          ? records.join(', ')
          : '';
  return `  ${name.padEnd(10)} ${state.status.padEnd(19)} ${detail}`;
}

export function printReceipt(receipt: ErasureReceipt): void {
  print(`Erasure receipt ${receipt.requestId}`);
  print(`  subject key  ${receipt.subjectKey}`);
  print(
    `  requested    ${receipt.requestedAt} by ${receipt.requestedBy} (${receipt.reason}${receipt.reasonNote ? `: ${receipt.reasonNote}` : ''})`,
  );
  print(`  completed    ${receipt.completedAt}  outcome: ${receipt.outcome}`);
  for (const [name, state] of Object.entries(receipt.systems)) print(systemLine(name, state));
}

export function printStatus(status: ErasureStatusView): void {
  print(`Erasure ${status.requestId} is ${status.status}`);
  print(`  subject key  ${status.subjectKey}`);
  for (const [name, state] of Object.entries(status.systems)) print(systemLine(name, state));
  if (status.status === 'needs_attention') {
    print('');
    print(`Fix the cause, then: consent-hub retry ${status.requestId} --system <name>`);
    print(`or give up on it:     consent-hub close ${status.requestId} --system <name> --reason <text>`);
  }
}

export function printListing(listings: ErasureListing[]): void {
  if (listings.length === 0) {
    print('No erasures match.');
    return;
  }
  for (const l of listings) {
    print(`${l.requestId}  ${l.status.padEnd(16)} ${l.startedAt}  subject ${l.subjectKey}`);
  }
}
