import type { RetryState } from '../domain/operator.js';
import type {
  RectificationReceipt,
  RectificationStatusView,
  SystemRectificationState,
} from '../domain/rectification.js';
import { attentionHint, gatedSystemLine, operatorLine, recordName } from './erasure-output.js';
import { print } from './hub-context.js';

/** One system of a rectification: status, then what needs a person, what is retried, or what changed where. */
export function rectificationSystemLine(
  name: string,
  state: SystemRectificationState & { retrying?: RetryState },
): string {
  const changed = state.records.map(
    (r) =>
      `${recordName(r)}: ${r.result}${r.changed.length ? ` (${r.changed.map((c) => c.field).join(', ')})` : ''}`,
  );
  return gatedSystemLine(name, state, state.note ?? changed.join('; '));
}

export function printRectificationReceipt(receipt: RectificationReceipt): void {
  print(`Rectification receipt ${receipt.requestId}  outcome: ${receipt.outcome}`);
  print(`  subject key  ${receipt.subjectKey}`);
  print(`  requested    ${receipt.requestedAt} by ${receipt.requestedBy}`);
  print(`  completed    ${receipt.completedAt}`);
  print(`  fields       ${receipt.fields.join(', ')}`);
  for (const [system, state] of Object.entries(receipt.systems))
    print(rectificationSystemLine(system, state));
  if (receipt.rekeyed) print(`  re-keyed     ${receipt.rekeyed.from} → ${receipt.rekeyed.to}`);
  if (receipt.rekeyNote) print(`  not re-keyed ${receipt.rekeyNote}`);
  for (const entry of receipt.operatorActions ?? []) print(`  operator     ${operatorLine(entry)}`);
}

/** A running rectification; when a system needs attention, the retry and close commands that act on it. */
export function printRectificationStatus(status: RectificationStatusView): void {
  print(`Rectification ${status.requestId} is ${status.status}`);
  print(`  subject key  ${status.subjectKey}`);
  print(`  fields       ${status.fields.join(', ')}`);
  for (const [system, state] of Object.entries(status.systems)) print(rectificationSystemLine(system, state));
  for (const entry of status.operatorActions ?? []) print(`  operator     ${operatorLine(entry)}`);
  if (status.status === 'needs_attention') {
    print('');
    for (const line of attentionHint(status.requestId, status.systems)) print(line);
  }
}
