import { defineQuery, setHandler } from '@temporalio/workflow';
import { type RedactionSubject, redactText } from '../domain/text-redaction.js';
import type { OperatorGate } from './operator-gate.js';

/**
 * Asked by clients before they send or store an operator's words about a running request (a close reason or
 * note, a deadline extension's reason): the workflow answers the text redacted for its subject, the address
 * and the names the CRM holds for them, which the client does not know. A query: the text is in no history.
 */
export const redactOperatorTextQuery = defineQuery<string, [string]>('redactOperatorText');

/**
 * Makes a workflow redact every operator text for its subject: what the gate records (close reasons, notes)
 * and what clients ask through `redactOperatorTextQuery`. `subject` is read at each call, so names
 * harvested later count too; several subjects (a rectification's old and new address) are each redacted. Pure text work: no command, so no patch is needed.
 */
export function redactOperatorTextFor(
  gate: OperatorGate,
  subject: () => RedactionSubject | readonly RedactionSubject[],
): void {
  const redact = (text: string) => {
    const known = subject();
    const subjects: readonly RedactionSubject[] = Array.isArray(known) ? known : [known as RedactionSubject];
    return subjects.reduce((redacted, one) => redactText(redacted, one), text);
  };
  gate.redactText = redact;
  setHandler(redactOperatorTextQuery, (text) => redact(String(text)));
}
