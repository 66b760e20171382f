import { ApplicationFailure, defineQuery, defineUpdate, patched, setHandler } from '@temporalio/workflow';
import { crmNamesUnavailableType } from '../domain/redaction-names.js';
import { type RedactionSubject, redactText } from '../domain/text-redaction.js';
import type { OperatorGate } from './operator-gate.js';

/**
 * Asked by clients before they send or store an operator's words about a running request (a close reason or
 * note, a deadline extension's reason): the workflow answers the text redacted for its subject, the address
 * and the names the CRM holds for them, which the client does not know. A query: the text is in no history,
 * but a query cannot read the CRM, so it knows the names only if the run has read them already.
 */
export const redactOperatorTextQuery = defineQuery<string, [string]>('redactOperatorText');

/**
 * Sent by clients before `redactOperatorTextQuery` when the run may not have read the CRM's names for its
 * subject yet (a query cannot do I/O): the handler reads them once per run (time-boxed by the workflow so it
 * never holds the run back, remembered for the rest of the run) and answers how many distinct names it knows. It
 * carries no text: an update's arguments stay in the history, and an operator's words typed with a name
 * would be kept there under the master key, readable after the person's erasure; the query that follows
 * leaves nothing behind. A workflow without the handler (started by an older build) refuses it, and
 * clients ask the query alone, as before.
 */
export const redactOperatorTextWithCrmNamesUpdate = defineUpdate<number, []>(
  'redactOperatorTextWithCrmNames',
);

/**
 * Patch id (Temporal's `patched`): an operator text redacted through the update reads the CRM's names first.
 * Asked in the update handler only, so a run from before it replays as it was recorded.
 */
export const operatorTextCrmNamesPatch = 'operator-text-crm-names';

/**
 * Patch id (Temporal's `patched`): when the run could not read the CRM's names, the update fails with
 * `crmNamesUnavailableType` instead of answering the names it knows, so the client withholds the text rather
 * than sending it on redacted of the address alone. Asked in the update handler only, after a failed read.
 */
export const operatorTextNamesUncheckedPatch = 'operator-text-names-unchecked';

/**
 * Makes a workflow redact every operator text for its subject: what the gate records (close reasons, notes)
 * and what clients ask through `redactOperatorTextQuery`. `subject` is read at each call, so names
 * harvested later count too; several subjects (a rectification's old and new address) are each redacted.
 * With `learnCrmNames` (reads the CRM's names into what `subject` answers and says whether it could; must
 * not throw but for a cancellation), clients may first have them read through
 * `redactOperatorTextWithCrmNamesUpdate`, which fails with `crmNamesUnavailableType` when they could not be.
 */
export function redactOperatorTextFor(
  gate: OperatorGate,
  subject: () => RedactionSubject | readonly RedactionSubject[],
  learnCrmNames?: () => Promise<boolean>,
): void {
  const redact = (text: string) => {
    const known = subject();
    const subjects: readonly RedactionSubject[] = Array.isArray(known) ? known : [known as RedactionSubject];
    return subjects.reduce((redacted, one) => redactText(redacted, one), text);
  };
  gate.redactText = redact;
  setHandler(redactOperatorTextQuery, (text) => redact(String(text)));
  if (!learnCrmNames) return;
  gate.namesChecked = learnCrmNames;
  setHandler(redactOperatorTextWithCrmNamesUpdate, async () => {
    if (patched(operatorTextCrmNamesPatch)) {
      const checked = await learnCrmNames();
      if (!checked && patched(operatorTextNamesUncheckedPatch))
        throw ApplicationFailure.nonRetryable(
          "The CRM (Dynamics) could not be asked for the person's names within 30 seconds; a text about them cannot be checked now.",
          crmNamesUnavailableType,
        );
    }
    const known = subject();
    const subjects: readonly RedactionSubject[] = Array.isArray(known) ? known : [known as RedactionSubject];
    return new Set(subjects.flatMap((one) => one.names ?? [])).size;
  });
}
