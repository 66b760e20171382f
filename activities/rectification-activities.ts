import { createHmac } from 'node:crypto';
import type { RectifyChanges, RectifyResult, VendorRecordRef } from '../connectors/connector.js';
import { normaliseEmail } from '../domain/email.js';
import { inlineRecordLimit } from '../domain/erasure.js';
import {
  mailchimpAddressChangeActor,
  type RectificationReceipt,
  type RectifiedRecord,
} from '../domain/rectification.js';
import { maxRectificationRecords } from '../domain/rectification-bound.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { derivedKey, protectRecordIds } from '../privacy/keyed-id.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import type { ConnectorCall } from './create-activities.js';
import type { ErasureStepInput } from './erasure-activities.js';
import type { ConsentHandOverInput, WorkStarter } from './reconciliation-activities.js';

/**
 * A rectification's harvest in one system as the workflow keeps it: the ids to write and how many records of
 * someone else hold the new address. `tooMany` (with no ids) when the person has more records there than
 * `maxRectificationRecords`: the workflow refuses the request rather than carry them all in its history.
 */
export interface PlannedRectification {
  own: VendorRecordRef[];
  conflicts: number;
  tooMany?: number;
}

/**
 * A record's reference as `rectification_moves` keeps it: 128 bits of HMAC-SHA256 under a hub key over the
 * system, kind, container and id, so the ledger holds no vendor id derived from an address.
 */
function moveKey(secret: string, system: string, ref: VendorRecordRef): string {
  return createHmac('sha256', derivedKey(secret, 'rectification-move'))
    .update(`${system}\u0000${ref.kind}\u0000${ref.container ?? ''}\u0000${ref.id}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

/** A system's rectification as the workflow keeps it: field names and before-hashes, the first records. */
export interface RectifiedInSystem {
  outcome: RectifyResult['outcome'];
  records: RectifiedRecord[];
  recordCount: number;
  note?: string;
  /**
   * The names the system held for the person before the change (`RectifyResult.names`), so the workflow
   * redacts them from operator texts too; absent when it held none, and on runs recorded before this field.
   */
  namesBefore?: string[];
}

/**
 * A value as a rectification receipt may keep it: `hmac:` and 128 bits of HMAC-SHA256 under a hub key
 * (derived from the subject-key secret), over the system, the field and the value. Who holds the old value
 * can prove it is the one replaced; without the hub's secret it cannot be guessed back.
 */
export function beforeHash(secret: string, system: string, field: string, value: string | null): string {
  if (value === null || value === '') return 'empty';
  const digest = createHmac('sha256', derivedKey(secret, 'rectification-before'))
    .update(`${system}\u0000${field}\u0000${value}`, 'utf8')
    .digest('hex');
  return `hmac:${digest.slice(0, 32)}`;
}

/** The activities of a rectification (GDPR Art. 16): change each system, re-key the ledger, keep the receipt. */
export function createRectificationActivities({
  ledger,
  logger,
  subjectKeySecret,
  call,
  starter,
}: {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  call: ConnectorCall;
  starter?: Pick<WorkStarter, 'handOverConsent' | 'isRunning' | 'erase'>;
}) {
  return {
    /**
     * Whether an erasure of the subject runs now (its workflow id is `erasure-<subject key>`): a
     * rectification must not move records an erasure is deleting, nor re-key the ledger under it (issue 18).
     * Workers that cannot look (no visibility client) answer false, as before this check.
     */
    async erasureRunningFor(subjectKey: string): Promise<boolean> {
      return (await starter?.isRunning?.(`erasure-${subjectKey}`)) ?? false;
    },

    /**
     * An erasure of the person that began while their records were being moved to the new address searches
     * the old one and misses what moved: the rectification asks for the erasure of the new address too, so
     * the person's request reaches every record. Answers the new erasure's request id (the running one's,
     * when the new address's erasure already runs: requests for one person join).
     */
    async eraseMovedRecords(input: { requestId: string; newEmail: string }): Promise<{ requestId: string }> {
      if (!starter?.erase) throw new Error('this worker cannot start workflows (no starter)');
      return starter.erase({
        email: input.newEmail,
        gaClientIds: [],
        gaUserIds: [],
        reason: 'subject_request',
        requestedBy: `rectification:${input.requestId}`,
        requestedAt: new Date().toISOString(),
      });
    },

    /**
     * A rectification's harvest in one system (issue 18), before anything is written anywhere: the ids of
     * the person's records under the old address, and how many records of someone else hold the new one.
     * A system with no harvest (Google Analytics holds no address) answers none and no conflict.
     */
    planRectification(
      input: ErasureStepInput & { newEmail?: string; newAddressIsTheirs: boolean },
    ): Promise<PlannedRectification> {
      return call(input, 'rectify', async (connector) => {
        if (!connector.planRectification) return { own: [], conflicts: 0 };
        const plan = await connector.planRectification(
          input.subject,
          input.newEmail,
          input.newAddressIsTheirs,
        );
        let { own, conflicts } = plan;
        // Records already at the new address that an earlier rectification of this person moved there (a
        // half-done one: the ledger was not re-keyed) are theirs, written again like the rest.
        if (conflicts > 0 && plan.others && input.newEmail) {
          const keys = plan.others.map((ref) => moveKey(subjectKeySecret, input.system, ref));
          const earlier = new Set(
            await ledger.findRectificationMoves({
              subjectKey: input.subjectKey,
              newSubjectKey: subjectKeyFor(input.newEmail, subjectKeySecret),
              system: input.system,
              recordKeys: keys,
            }),
          );
          const moved = plan.others.filter((_, index) => earlier.has(keys[index] ?? ''));
          own = [...own, ...moved];
          conflicts -= moved.length;
        }
        if (own.length > maxRectificationRecords) return { own: [], conflicts, tooMany: own.length };
        return { own, conflicts };
      });
    },

    /**
     * Sets the new values in one system; the values before leave this activity only as keyed hashes. With
     * `own` (the harvest's ids) exactly those records are written, on every attempt.
     */
    rectifyInSystem(
      input: ErasureStepInput & { changes: RectifyChanges; own?: VendorRecordRef[] },
    ): Promise<RectifiedInSystem> {
      return call(input, 'rectify', async (connector) => {
        if (!connector.rectify) {
          return {
            outcome: 'not_applicable',
            records: [],
            recordCount: 0,
            note: `${input.system} holds no email or name for a person; nothing to rectify there`,
          };
        }
        const result = await connector.rectify(input.subject, input.changes, input.own);
        const newEmail = input.changes.email;
        if (newEmail && normaliseEmail(newEmail) !== normaliseEmail(input.subject.email)) {
          // What now sits at the new address (Mailchimp's member under its new id), for a later attempt of
          // the same person's change after this one is left half-done.
          const written = result.records.filter((r) => r.result === 'rectified' || r.result === 'already');
          if (written.length > 0)
            await ledger.recordRectificationMoves({
              subjectKey: input.subjectKey,
              newSubjectKey: subjectKeyFor(newEmail, subjectKeySecret),
              system: input.system,
              recordKeys: written.map((ref) => moveKey(subjectKeySecret, input.system, ref)),
              requestId: input.requestId,
              at: new Date().toISOString(),
            });
        }
        const records = protectRecordIds(subjectKeySecret, input.system, result.records).map(
          ({ kind, id, container, result: done, before }): RectifiedRecord => ({
            kind,
            id,
            ...(container ? { container } : {}),
            result: done,
            changed: Object.entries(before).map(([field, value]) => ({
              field,
              beforeHash: beforeHash(subjectKeySecret, input.system, field, value),
            })),
          }),
        );
        const namesBefore = result.names ?? [];
        return {
          outcome: result.outcome,
          records: records.slice(0, inlineRecordLimit),
          recordCount: records.length,
          ...(result.note ? { note: result.note } : {}),
          ...(namesBefore.length > 0 ? { namesBefore } : {}),
        };
      });
    },

    /** Moves the person's ledger rows to their new subject key and links the two (an email change). */
    async rekeySubject(link: { from: string; to: string; requestId: string; at: string }) {
      const moved = await ledger.rekeySubject(link);
      logger.info({ subjectKey: link.from, newSubjectKey: link.to, moved }, 'subject re-keyed in the ledger');
      return moved;
    },

    /**
     * The old key's consent workflow hands over to the new key's (issue 18): first the ledger rows the old
     * run wrote under the old key after the rectification's re-keying move too (rekeySubject again: it moves
     * only what is left and keeps the first link), then the new key's workflow gets the pending changes and
     * the systems to write again, started if it is not running. Safe to repeat: changes count once by
     * their event id, and writing a system again writes the same state.
     */
    async handOverConsent(input: ConsentHandOverInput & { fromSubjectKey: string }): Promise<void> {
      if (!starter?.handOverConsent) throw new Error('this worker cannot start workflows (no starter)');
      const moved = await ledger.rekeySubject({
        from: input.fromSubjectKey,
        to: input.subjectKey,
        requestId: input.requestId,
        at: new Date().toISOString(),
      });
      await starter.handOverConsent(input);
      logger.info(
        {
          subjectKey: input.fromSubjectKey,
          newSubjectKey: input.subjectKey,
          pending: input.pending.length,
          systems: input.systems,
          moved,
        },
        'consent workflow handed over to the new subject key',
      );
    },

    /** Keeps the receipt and marks the request completed, so its deadline is met (never overdue). */
    async recordRectification(receipt: RectificationReceipt): Promise<void> {
      await ledger.recordRectification(receipt);
      // A change Mailchimp already made (its upemail webhook) that the hub did not carry everywhere leaves
      // the vendors disagreeing on the person's address: kept open for an operator (issue 18).
      if (
        receipt.requestedBy === mailchimpAddressChangeActor &&
        receipt.outcome !== 'completed' &&
        receipt.newSubjectKey
      ) {
        await ledger.recordAddressChangeRefusal({
          id: receipt.requestId,
          subjectKey: receipt.subjectKey,
          newSubjectKey: receipt.newSubjectKey,
          source: mailchimpAddressChangeActor,
          reason: receipt.refusal ?? 'rectification_incomplete',
          requestId: receipt.requestId,
          recordedAt: receipt.completedAt,
        });
        logger.warn(
          {
            subjectKey: receipt.subjectKey,
            newSubjectKey: receipt.newSubjectKey,
            requestId: receipt.requestId,
            reason: receipt.refusal ?? 'rectification_incomplete',
          },
          "mailchimp's address change was not carried out everywhere; kept for an operator",
        );
      }
      await ledger.completeRequest(receipt.requestId, receipt.completedAt);
    },
  };
}
