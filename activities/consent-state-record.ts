import type { ConsentStateResult, PurposeOutcome } from '../connectors/connector.js';
import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import type { Ledger } from '../ledger/ledger.js';

/**
 * Records in the ledger what a write of a person's consent state did in one system, the same way whichever
 * path wrote it (the person's workflow or a batch): for `not_applicable` only the purposes' answers ("not
 * carried here"), so what the system last holds, and a withdrawal still unresolved there, stay as recorded;
 * otherwise the system's state with its fields and each purpose's answer under the event in force.
 */
export async function recordConsentStateWritten(
  ledger: Ledger,
  input: {
    subjectKey: string;
    system: SystemName;
    /** The event in force per purpose. */
    eventIds: Partial<Record<Purpose, string>>;
    result: Omit<ConsentStateResult, 'records'>;
    writtenAt: string;
  },
): Promise<void> {
  const { subjectKey, system, eventIds, result, writtenAt } = input;
  if (result.outcome === 'not_applicable') {
    for (const [purpose, outcome] of Object.entries(result.purposes) as [Purpose, PurposeOutcome][]) {
      const eventId = eventIds[purpose];
      if (!eventId) continue;
      await ledger.recordConsentOutcome({ eventId, subjectKey, system, outcome, recordedAt: writtenAt });
    }
    return;
  }
  await ledger.recordSystemConsentState({
    subjectKey,
    system,
    outcome: result.outcome,
    fields: result.fields,
    eventIds: Object.fromEntries(Object.entries(eventIds).filter(([purpose]) => purpose in result.purposes)),
    purposes: result.purposes,
    writtenAt,
  });
}
