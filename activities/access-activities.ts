import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { type AccessCategories, defaultAccessCategories } from '../config/access-categories.js';
import type {
  AccessField,
  AccessHoldings,
  AccessRecord,
  SubjectIdentifiers,
} from '../connectors/connector.js';
import { NonRetryableVendorError } from '../connectors/connector-errors.js';
import type { AccessExportFiles, AccessReceipt, AccessSource } from '../domain/access.js';
import type { RestrictionReceipt } from '../domain/hold.js';
import type { SystemName } from '../domain/systems.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import type { AccessExportStore } from '../privacy/access-export-store.js';
import { derivedKey } from '../privacy/keyed-id.js';
import {
  accessExportSchemaVersion,
  buildAccessExport,
  countsOf,
  renderAccessReport,
} from './access-export.js';
import type { ConnectorActivityInput, ConnectorCall } from './create-activities.js';
import { failureTypes } from './vendor-failure.js';

export interface AccessActivityDependencies {
  ledger: Ledger;
  logger: Logger;
  subjectKeySecret: string;
  call: ConnectorCall;
  exports?: AccessExportStore;
  categories?: AccessCategories;
}

const partName = (system: AccessSource) => `part-${system}`;

/** Where the parts of one request stand when the export is put together; reasons only, no data. */
export interface AccessPartStatus {
  status: string;
  reason?: string;
}

/**
 * The access request's activities. Each system's holdings go straight from the connector to the encrypted
 * export store; only counts return to the workflow, so its history never holds the data.
 */
export function createAccessActivities({
  ledger,
  logger,
  subjectKeySecret,
  call,
  exports,
  categories = defaultAccessCategories,
}: AccessActivityDependencies) {
  function store(): AccessExportStore {
    if (exports) return exports;
    throw ApplicationFailure.create({
      message: 'no export directory is configured on this worker (CONSENT_HUB_EXPORT_DIR)',
      type: failureTypes.notConfigured,
      nonRetryable: true,
    });
  }

  return {
    /**
     * Reads everything one system holds about the person (paging inside the connector, heartbeating) and
     * writes it, encrypted, as that system's part of the export. Answers counts by record kind.
     */
    async collectAccessInSystem(
      input: ConnectorActivityInput & { requestId: string },
    ): Promise<{ counts: Record<string, number>; recordCount: number }> {
      const target = store();
      const holdings = await call(input, 'access', (c) => {
        if (!c.collectAccess) {
          throw new NonRetryableVendorError({
            system: input.system === 'noop' ? 'noop' : input.system,
            operation: 'access',
            reason: 'this connector cannot read what it holds about a person',
          });
        }
        return c.collectAccess(input.subject);
      });
      // Sealed with the person's data key: their erasure makes it unreadable, wherever a copy went.
      await target.writeJson(
        input.requestId,
        partName(input.system as SystemName),
        holdings,
        input.subjectKey,
      );
      const counts = countKinds(holdings.records);
      logger.info(
        { subjectKey: input.subjectKey, system: input.system, counts },
        'access: holdings written to the export store',
      );
      return { counts, recordCount: holdings.records.length };
    },

    /**
     * Puts the parts together with the hub's own ledger (consent events with evidence, receipts, the
     * tombstone) and the GA ids the hub knows, writes the JSON document and the HTML report encrypted,
     * and removes the parts. Idempotent: a retry finds the parts still there until the export is written.
     */
    async assembleAccessExport(input: {
      requestId: string;
      subjectKey: string;
      subject: SubjectIdentifiers;
      requestedAt: string;
      systems: Record<SystemName, AccessPartStatus>;
    }): Promise<AccessExportFiles> {
      const target = store();
      const parts: { system: AccessSource; status: string; reason?: string; holdings?: AccessHoldings }[] =
        [];
      const held: Partial<Record<SystemName, AccessHoldings>> = {};
      for (const system of ['dynamics', 'mailchimp', 'google'] as const) {
        const state = input.systems[system];
        if (state.status === 'collected') {
          held[system] = (await target.readJson(input.requestId, partName(system))) as AccessHoldings;
        }
      }
      // Google keeps no per-person record the hub can read: the ids the hub knows are the person's GA data.
      const known = gaIdentifierRecords(input.subject, held.dynamics?.gaClientIds ?? []);
      if (known.length > 0 || held.google) {
        const google = held.google ?? { records: [], statements: [] };
        google.records.unshift(...known);
        held.google = google;
      }
      for (const system of ['dynamics', 'mailchimp', 'google'] as const) {
        const state = input.systems[system];
        parts.push({ system, ...state, ...(held[system] ? { holdings: held[system] } : {}) });
      }
      parts.push({
        system: 'ledger',
        status: 'collected',
        holdings: await ledgerHoldings(ledger, input.subjectKey),
      });

      const document = buildAccessExport({
        requestId: input.requestId,
        subjectKey: input.subjectKey,
        requestedAt: input.requestedAt,
        email: input.subject.email,
        generatedAt: new Date().toISOString(),
        categories,
        parts,
      });
      const json = JSON.stringify(document, null, 2);
      const sizes = {
        json: await target.write(input.requestId, 'export.json', json, input.subjectKey),
        html: await target.write(
          input.requestId,
          'export.html',
          renderAccessReport(document),
          input.subjectKey,
        ),
      };
      for (const system of ['dynamics', 'mailchimp', 'google'] as const)
        await target.remove(input.requestId, partName(system));
      const jsonDigest = createHmac('sha256', derivedKey(subjectKeySecret, 'access-export-digest'))
        .update(json, 'utf8')
        .digest('hex');
      logger.info(
        { subjectKey: input.subjectKey, records: document.records.length },
        'access: export written, encrypted',
      );
      return {
        sizes,
        jsonDigest: `hmac-sha256:${jsonDigest}`,
        schema: accessExportSchemaVersion,
        recordCount: document.records.length,
        counts: countsOf(document),
        writtenAt: document.generatedAt,
      };
    },

    /** The request is answered (its export is ready): it leaves the deadline queue. Idempotent. */
    async completeAccessRequest(input: { requestId: string; completedAt: string }): Promise<void> {
      await ledger.completeRequest(input.requestId, input.completedAt);
    },

    /** Keeps the receipt (counts, systems, times, export digest: no personal data) after the history is gone. */
    async recordAccessReceipt(receipt: AccessReceipt): Promise<void> {
      await ledger.recordAccessReceipt(receipt);
    },

    /** Deletes every file of the request's export (the time to fetch it ran out). Answers how many went. */
    async deleteAccessExport(input: {
      requestId: string;
      subjectKey: string;
    }): Promise<{ files: number; at: string }> {
      const files = await store().deleteAll(input.requestId);
      logger.info({ subjectKey: input.subjectKey, files }, 'access: export deleted');
      return { files, at: new Date().toISOString() };
    },

    /**
     * Deletes what the request gathered because its subject was erased, leaving the store's marker so that a
     * fetch answers that the export went with the erasure (AccessExportGone, 410). Answers how many files went;
     * without an export store on this worker there is nothing to delete.
     */
    async eraseAccessExportOfErased(input: {
      requestId: string;
      subjectKey: string;
    }): Promise<{ files: number; at: string }> {
      const files = exports ? await exports.eraseRequest(input.requestId) : 0;
      logger.info({ subjectKey: input.subjectKey, files }, 'access: export erased with its subject');
      return { files, at: new Date().toISOString() };
    },
  };
}

function countKinds(records: AccessRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) counts[record.kind] = (counts[record.kind] ?? 0) + 1;
  return counts;
}

/** The GA client and user ids the hub knows for the person, each saying where the hub learnt it. */
function gaIdentifierRecords(subject: SubjectIdentifiers, fromCrm: string[]): AccessRecord[] {
  const clientIds = new Map<string, Set<string>>();
  for (const id of subject.gaClientIds)
    (clientIds.get(id) ?? clientIds.set(id, new Set()).get(id))?.add('request');
  for (const id of fromCrm) (clientIds.get(id) ?? clientIds.set(id, new Set()).get(id))?.add('dynamics');
  return [
    ...[...clientIds].map(([id, from]) => ({
      kind: 'gaClientId',
      id,
      fields: [
        { name: 'clientId', label: 'Google Analytics client id (_ga cookie)', value: id },
        { name: 'knownFrom', label: 'Where the hub learnt it', value: [...from] },
      ],
    })),
    ...subject.gaUserIds.map((id) => ({
      kind: 'gaUserId',
      id,
      fields: [
        { name: 'userId', label: 'Google Analytics user id', value: id },
        { name: 'knownFrom', label: 'Where the hub learnt it', value: ['request'] },
      ],
    })),
  ];
}

/** A record's fields from an object's entries, in order; `keyed` names those whose value is a keyed hash. */
function fieldsOf(value: object, keyed: readonly string[] = []): AccessField[] {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => ({ name, value: v, ...(keyed.includes(name) ? { keyed: true as const } : {}) }));
}

/** What the ledger says of keyed values, for the report (where the ledger keeps no more than a key). */
const keyedStatement = {
  topic: 'keyed references',
  text: 'Some values in consent-hub’s own records are keyed references (marked "keyed"): a keyed hash of a value or record the hub does not keep, such as the reference of a record a rectification moved or the value a field had before it was corrected. The hub can recognise the thing again with them, but neither it nor anyone else can turn them back into what they stand for.',
};

/**
 * The hub's own records of the person (GDPR Art. 15 covers the controller's processing records too): consent
 * events with their evidence, erasure receipts and the tombstone, every legal hold with its release, the
 * restrictions of held erasures, rectification receipts, the records rectifications moved (keyed references:
 * the ledger keeps nothing else of them) and earlier access requests. Operator texts stay out: they are the
 * operators' words, and were redacted of the person when written.
 */
async function ledgerHoldings(ledger: Ledger, subjectKey: string): Promise<AccessHoldings> {
  const [events, receipts, tombstone, holds, restrictions, rectifications, moves, accesses] =
    await Promise.all([
      ledger.listConsentEvents(subjectKey),
      ledger.listReceipts({ subjectKey }),
      ledger.getTombstone(subjectKey),
      ledger.listHolds(subjectKey),
      ledger.listRestrictions(subjectKey),
      ledger.listRectifications(subjectKey),
      ledger.listRectificationMoves(subjectKey),
      ledger.listAccessReceipts(subjectKey),
    ]);
  const records: AccessRecord[] = [
    ...events.map((event) => {
      const { subjectKey: _key, ...rest } = event;
      return { kind: 'consentEvent', id: event.id, fields: fieldsOf(rest) };
    }),
    ...receipts.map((receipt) => ({
      kind: 'receipt',
      id: receipt.requestId,
      fields: fieldsOf({
        kind: 'erasure',
        outcome: receipt.outcome,
        reason: receipt.reason,
        requestedAt: receipt.requestedAt,
        completedAt: receipt.completedAt,
        systems: Object.fromEntries(Object.entries(receipt.systems).map(([s, state]) => [s, state.status])),
      }),
    })),
    ...(tombstone
      ? [
          {
            kind: 'tombstone',
            id: tombstone.firstRequestId,
            fields: fieldsOf({ erasedAt: tombstone.erasedAt, systems: tombstone.systems }),
          },
        ]
      : []),
    ...holds.map((hold) => ({
      kind: 'legalHold',
      // One hold per placing time (legal_hold_history's key with the subject).
      id: `legal-hold/${hold.placedAt}`,
      fields: fieldsOf({
        reason: hold.reason,
        placedBy: hold.placedBy,
        placedAt: hold.placedAt,
        releasedAt: hold.releasedAt,
        releasedBy: hold.releasedBy,
        releaseReason: hold.releaseReason,
      }),
    })),
    ...restrictions.map((restriction) => ({
      kind: 'restriction',
      id: restriction.requestId,
      fields: fieldsOf({
        hold: restriction.hold,
        restrictedAt: restriction.restrictedAt,
        outcome: restriction.outcome,
        released: restriction.released,
        systems: restrictedSystems(restriction.systems),
        earlierRestrictions: restriction.earlierRestrictions?.map((earlier) => ({
          hold: earlier.hold,
          restrictedAt: earlier.restrictedAt,
          outcome: earlier.outcome,
          released: earlier.released,
          systems: restrictedSystems(earlier.systems),
        })),
      }),
    })),
    ...rectifications.map((receipt) => ({
      kind: 'rectification',
      id: receipt.requestId,
      fields: fieldsOf(
        {
          requestedBy: receipt.requestedBy,
          requestedAt: receipt.requestedAt,
          completedAt: receipt.completedAt,
          fields: receipt.fields,
          outcome: receipt.outcome,
          systems: Object.fromEntries(
            Object.entries(receipt.systems).map(([system, state]) => [
              system,
              {
                status: state.status,
                ...(state.recordCount === undefined ? {} : { recordCount: state.recordCount }),
                records: state.records.map(({ kind, id, container, result, changed }) => ({
                  kind,
                  id,
                  ...(container ? { container } : {}),
                  result,
                  fields: changed.map((c) => c.field),
                })),
                ...(state.note ? { note: state.note } : {}),
              },
            ]),
          ),
          // The values before are kept only as keyed hashes: proof that they changed, not what they were.
          beforeHashes: Object.entries(receipt.systems).flatMap(([system, state]) =>
            state.records.flatMap((record) =>
              record.changed.map((c) => ({
                system,
                kind: record.kind,
                id: record.id,
                field: c.field,
                beforeHash: c.beforeHash,
              })),
            ),
          ),
          // An email change: the person's records moved from the old address's key to the new one's.
          rekeyedFrom: receipt.rekeyed?.from,
          rekeyedTo: receipt.rekeyed?.to,
          rekeyedAt: receipt.rekeyed?.at,
          rekeyNote: receipt.rekeyNote,
        },
        ['beforeHashes', 'rekeyedFrom', 'rekeyedTo'],
      ),
    })),
    ...moves.map((move) => ({
      kind: 'rectificationMove',
      id: `${move.requestId}/${move.system}/${move.recordKey}`,
      fields: fieldsOf(
        {
          system: move.system,
          requestId: move.requestId,
          movedAt: move.movedAt,
          recordKey: move.recordKey,
          fromSubjectKey: move.subjectKey,
          toSubjectKey: move.newSubjectKey,
        },
        ['recordKey', 'fromSubjectKey', 'toSubjectKey'],
      ),
    })),
    ...accesses.map((receipt) => ({
      kind: 'accessReceipt',
      id: receipt.requestId,
      fields: fieldsOf(
        {
          requestedBy: receipt.requestedBy,
          requestedAt: receipt.requestedAt,
          receivedAt: receipt.receivedAt,
          dueAt: receipt.dueAt,
          completedAt: receipt.completedAt,
          outcome: receipt.outcome,
          status: receipt.status,
          systems: Object.fromEntries(
            Object.entries(receipt.systems).map(([system, state]) => [
              system,
              {
                status: state.status,
                ...(state.counts ? { counts: state.counts } : {}),
                ...(state.recordCount === undefined ? {} : { recordCount: state.recordCount }),
              },
            ]),
          ),
          export: receipt.export && {
            schema: receipt.export.schema,
            writtenAt: receipt.export.writtenAt,
            recordCount: receipt.export.recordCount,
            counts: receipt.export.counts,
          },
          exportDigest: receipt.export?.jsonDigest,
          expiresAt: receipt.expiresAt,
          deletedAt: receipt.deletedAt,
          withdrawn: receipt.withdrawn,
        },
        ['exportDigest'],
      ),
    })),
  ];
  const keyed = records.some((record) => record.fields.some((field) => field.keyed));
  return { records, statements: keyed ? [keyedStatement] : [] };
}

/** Per system, what a restriction did: status, records (vendor ids, result, what was set) and any note. */
function restrictedSystems(systems: RestrictionReceipt['systems']) {
  return Object.fromEntries(
    Object.entries(systems).map(([system, state]) => [
      system,
      {
        status: state.status,
        ...(state.recordCount === undefined ? {} : { recordCount: state.recordCount }),
        records: state.records.map(({ kind, id, container, result, actions }) => ({
          kind,
          id,
          ...(container ? { container } : {}),
          result,
          actions,
        })),
        ...(state.note ? { note: state.note } : {}),
      },
    ]),
  );
}
