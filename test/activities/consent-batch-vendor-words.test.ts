import { describe, expect, it } from 'vitest';
import {
  createConsentBatchActivities,
  withheldVendorText,
} from '../../activities/consent-batch-activities.js';
import type { ConnectorSet } from '../../connectors/connector.js';
import type { BulkPersonState } from '../../domain/consent-batch.js';
import type { Ledger } from '../../ledger/ledger.js';
import { silentLogger } from '../support/temporal.js';

const person: BulkPersonState = {
  subjectKey: 'c'.repeat(64),
  email: 'fiona.fitzgerald@example.com',
  decisions: {},
  changed: ['marketing_email'],
  inForce: {},
};
/** A plug-in's refusal quoting the row's name (a CRM name that is no part of the address). */
const vendorWords = 'Plug-in refused the change for Siobhan Byrne (fiona.fitzgerald@example.com)';

/** An empty ledger: nobody's state moved since the intake. */
const ledger = {
  getTombstone: async () => undefined,
  listConsentEvents: async () => [],
  listConsentOutcomes: async () => [],
  listSystemConsentStates: async () => [],
} as unknown as Ledger;

function activitiesWith(dynamicsFind: () => Promise<unknown>, plan: 'perPerson' | 'failedWrite') {
  const write = { key: person.subjectKey, email: person.email, record: { kind: 'contact', id: 'row-1' } };
  const dynamics = {
    find: dynamicsFind,
    planConsentBatch: async () =>
      plan === 'perPerson'
        ? [{ key: person.subjectKey, perPerson: vendorWords }]
        : [{ key: person.subjectKey, writes: [write], result: { outcome: 'applied' } }],
    writeConsentBatch: async () => [
      {
        key: person.subjectKey,
        record: write.record,
        outcome: 'failure',
        error: { retryable: false, status: 400, reason: vendorWords },
      },
    ],
  } as unknown as NonNullable<ConnectorSet['dynamics']>;
  return createConsentBatchActivities({
    connectors: { dynamics },
    ledger,
    logger: silentLogger,
    starter: {} as Parameters<typeof createConsentBatchActivities>[0]['starter'],
    runVendor: (_system, _operation, run) => run(),
  });
}

/**
 * Issue 16: a vendor's words about one person in the bulk path go into the batch's result and the person's
 * hand-over, which no erasure shreds. Redacted of the address alone (the CRM's names unread), they kept the
 * name; the per-person gate withholds them then, and so does the batch.
 */
describe("consent batch: a vendor's words about a person when the CRM's names cannot be read", () => {
  const down = async () => {
    throw new Error('Dataverse unreachable');
  };
  const answering = async () => ({ records: [], names: ['Siobhan', 'Byrne'] });

  for (const plan of ['perPerson', 'failedWrite'] as const) {
    it(`withholds the words (${plan}) when Dynamics does not answer the names`, async () => {
      const [answer] = await activitiesWith(down, plan).applyConsentBatchInSystem(
        { batchId: 'b1', system: 'dynamics' },
        person,
      );
      expect(answer).toEqual({ subjectKey: person.subjectKey, handOff: withheldVendorText });
      expect(JSON.stringify(answer)).not.toMatch(/Siobhan|Byrne|fiona/i);
    });

    it(`keeps the words (${plan}) redacted of the CRM's names and the address once they are read`, async () => {
      const [answer] = await activitiesWith(answering, plan).applyConsentBatchInSystem(
        { batchId: 'b1', system: 'dynamics' },
        person,
      );
      const handOff = (answer as { handOff: string }).handOff;
      expect(handOff).toMatch(/^Plug-in refused the change for /);
      expect(handOff).not.toMatch(/Siobhan|Byrne|fiona/i);
    });
  }
});
