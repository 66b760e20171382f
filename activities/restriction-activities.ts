import type { RestrictResult } from '../connectors/connector.js';
import { inlineRecordLimit } from '../domain/erasure.js';
import type { LegalHold, RestrictedRecord, RestrictionReceipt } from '../domain/hold.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { protectRecordIds } from '../privacy/keyed-id.js';
import type { ConnectorCall } from './create-activities.js';
import type { ErasureStepInput } from './erasure-activities.js';

/** What an erasure needs to know of a hold: codes and times, no operator words. */
export type HoldForErasure = Pick<
  LegalHold,
  'reason' | 'placedAt' | 'releasedAt' | 'releasedBy' | 'releaseReason'
>;

/** A system's restriction as the workflow keeps it: at most `inlineRecordLimit` records, and the count. */
export interface RestrictedInSystem {
  outcome: RestrictResult['outcome'] | 'released_before_restriction';
  records: RestrictedRecord[];
  recordCount: number;
  note?: string;
}

/**
 * The activities of a held person's erasure (GDPR Art. 18, Art. 17(3)): read the hold, restrict each system
 * instead of deleting, and keep the restriction receipt in the ledger.
 */
export function createRestrictionActivities({
  ledger,
  logger,
  subjectKeySecret,
  call,
}: {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  call: ConnectorCall;
}) {
  return {
    /** The person's hold, in force or released; undefined when they were never held. */
    async loadHold(subjectKey: string): Promise<HoldForErasure | undefined> {
      const hold = await ledger.getHold(subjectKey);
      if (!hold) return undefined;
      const { subjectKey: _key, placedBy: _by, ...rest } = hold;
      return rest;
    },

    /**
     * Restricts what one system holds for the person. A system whose connector cannot restrict answers
     * `not_applicable`, saying so, rather than pretending. Person-derived ids leave the activity keyed.
     */
    async restrictInSystem(
      input: ErasureStepInput & {
        stopIfReleased?: { placedAt: string };
        /**
         * Set by erasures started after the `erasure-deletes-restricted-records` patch: every record restricted
         * is planned for the erasure's deletion by the id that still finds it (its `handle`, else its id), so
         * the deletion after the release deletes those records, whatever their address has become meanwhile
         * (an upemail, a CRM user editing the row), instead of searching the address again.
         */
        planErasure?: boolean;
      },
    ): Promise<RestrictedInSystem> {
      // Checked at every attempt, so a release that came while this system's restriction was retried (or
      // before it began) leaves it unrestricted: the erasure deletes it instead.
      if (input.stopIfReleased) {
        const hold = await ledger.getHold(input.subjectKey);
        // Released (or removed): a hold placed since would be in force, and restricting is then right.
        if (!hold || hold.releasedAt !== undefined)
          return {
            outcome: 'released_before_restriction',
            records: [],
            recordCount: 0,
            note: 'the hold was released before this system was restricted: nothing was restricted here, the erasure deletes it instead',
          };
      }
      return call(input, 'restrict', async (connector) => {
        if (!connector.restrict) {
          return {
            outcome: 'not_applicable',
            records: [],
            recordCount: 0,
            note: `${input.system} offers no way to restrict one person's data; nothing was changed there`,
          };
        }
        const result = await connector.restrict(input.subject);
        if (input.planErasure) {
          const kept = result.records.filter((record) => record.result !== 'gone');
          const byHandle = kept.filter((record) => record.handle !== undefined);
          const ref = ({ kind, id, container }: { kind: string; id: string; container?: string }) => ({
            kind,
            id,
            ...(container ? { container } : {}),
          });
          // A hold that stopped the erasure mid-run finds members the harvest planned by their keyed hash:
          // the same members, now known by the handle, so none is deleted (and listed) twice.
          await ledger.readdressErasureRecords(
            input.requestId,
            input.system,
            byHandle.map((record) => ({
              from: ref(protectRecordIds(subjectKeySecret, input.system, [record])[0] ?? record),
              to: ref({ ...record, id: record.handle as string }),
            })),
          );
          await ledger.planErasureRecords(input.requestId, input.system, [
            // A handle is never derived from the person (connector.ts): kept as the vendor gave it.
            ...byHandle.map((record) => ref({ ...record, id: record.handle as string })),
            ...protectRecordIds(
              subjectKeySecret,
              input.system,
              kept.filter((record) => record.handle === undefined),
            ).map(ref),
          ]);
        }
        const records = protectRecordIds(subjectKeySecret, input.system, result.records).map(
          ({ kind, id, container, result: done, actions }): RestrictedRecord => ({
            kind,
            id,
            ...(container ? { container } : {}),
            result: done,
            actions,
          }),
        );
        // The workflow's history keeps the first records only, whatever the number (a role address).
        return {
          outcome: result.outcome,
          records: records.slice(0, inlineRecordLimit),
          recordCount: records.length,
          ...(result.note ? { note: result.note } : {}),
        };
      });
    },

    /** Writes (or, after the release, rewrites) the restriction receipt. */
    async recordRestriction(receipt: RestrictionReceipt): Promise<void> {
      await ledger.recordRestriction(receipt);
      logger.info(
        {
          subjectKey: receipt.subjectKey,
          requestId: receipt.requestId,
          outcome: receipt.outcome,
          released: receipt.released !== undefined,
        },
        'restriction recorded in the ledger',
      );
    },
  };
}
