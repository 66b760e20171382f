import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessActivities } from '../../activities/access-activities.js';
import type { AccessExportDocument, AccessExportRecord } from '../../activities/access-export.js';
import type { AccessReceipt } from '../../domain/access.js';
import type { RestrictionReceipt } from '../../domain/hold.js';
import type { RectificationReceipt } from '../../domain/rectification.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import type { EncryptionKey } from '../../privacy/encryption-keys.js';
import { SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { type LedgerStore, ledgerBackends } from '../ledger/backends.js';
import { silentLogger } from '../support/temporal.js';
import { validateAccessExport } from '../workflows/access-export-schema.js';

const secret = randomBytes(32).toString('hex');
const master: EncryptionKey[] = [{ id: 'k1', key: randomBytes(32) }];

function accessReceipt(requestId: string, subjectKey: string, completedAt: string): AccessReceipt {
  return {
    kind: 'access',
    requestId,
    subjectKey,
    status: 'expired',
    requestedAt: completedAt,
    requestedBy: 'cli:alice',
    systems: {
      dynamics: { status: 'collected', attempts: 1, counts: { contact: 1 }, recordCount: 1 },
      mailchimp: { status: 'collected', attempts: 1, counts: { member: 1 }, recordCount: 1 },
      google: { status: 'collected', attempts: 1, counts: { gaClientId: 1 }, recordCount: 1 },
    },
    export: {
      sizes: { json: 10, html: 20 },
      jsonDigest: 'hmac-sha256:00ff',
      schema: 'access-export/v1',
      recordCount: 3,
      counts: { dynamics: { contact: 1 } },
      writtenAt: completedAt,
    },
    expiresAt: '2026-03-01T00:00:00.000Z',
    deletedAt: '2026-03-01T00:00:01.000Z',
    outcome: 'completed',
    completedAt,
  };
}

/**
 * An access request's portable copy holds what the hub itself keeps about the person (GDPR Art. 15 covers the
 * controller's own processing records): every legal hold with its release, the restriction of a held
 * erasure, rectification receipts, the records a rectification moved (as the keyed references the ledger
 * keeps) and earlier access requests, also those made under the address before a rectification.
 */
describe.each(ledgerBackends)("the access export's ledger part on $name", (backend) => {
  let store: LedgerStore;
  let ledger: Ledger;
  let exports: AccessExportStore;

  beforeAll(async () => {
    store = await backend.createStore();
    ledger = await openLedger(store.options, silentLogger);
    exports = new AccessExportStore(
      mkdtempSync(join(tmpdir(), 'access-ledger-exports-')),
      master,
      new SubjectDataKeys(ledger, master),
    );
  });
  afterAll(async () => {
    await ledger?.close();
    await store?.cleanup();
  });

  it("lists the person's holds, restrictions, rectifications, moved records and earlier access requests, keyed where the ledger keeps only keys", async () => {
    const run = randomUUID().slice(0, 8);
    const oldKey = subjectKeyFor(`old.${run}@example.com`, secret);
    const key = subjectKeyFor(`zoe.${run}@example.com`, secret);
    const otherKey = subjectKeyFor(`other.${run}@example.com`, secret);
    const rectificationId = randomUUID();
    const earlierAccessId = randomUUID();
    const laterAccessId = randomUUID();
    const erasureId = randomUUID();

    // Under the old address: an access request, a hold placed and released, a record moved to the new address.
    await ledger.recordAccessReceipt(accessReceipt(earlierAccessId, oldKey, '2026-01-05T10:00:00.000Z'));
    await ledger.placeHold({
      subjectKey: oldKey,
      reason: 'legal_claims',
      placedBy: 'cli:alice',
      placedAt: '2026-01-02T10:00:00.000Z',
    });
    await ledger.releaseHold({
      subjectKey: oldKey,
      releasedAt: '2026-01-03T10:00:00.000Z',
      releasedBy: 'cli:bob',
      releaseReason: 'resolved',
    });
    await ledger.recordRectificationMoves({
      subjectKey: oldKey,
      newSubjectKey: key,
      system: 'mailchimp',
      recordKeys: ['hmac:moved-member'],
      requestId: rectificationId,
      at: '2026-01-10T10:00:00.000Z',
    });
    // The email change re-keys the person; its receipt lists before-hashes only.
    await ledger.rekeySubject({
      from: oldKey,
      to: key,
      requestId: rectificationId,
      at: '2026-01-10T10:00:01Z',
    });
    const rectification: RectificationReceipt = {
      requestId: rectificationId,
      subjectKey: oldKey,
      requestedBy: 'cli:alice',
      requestedAt: '2026-01-10T09:00:00.000Z',
      completedAt: '2026-01-10T10:00:01.000Z',
      fields: ['email'],
      outcome: 'completed',
      systems: {
        dynamics: { status: 'not_found', records: [], attempts: 1 },
        mailchimp: {
          status: 'rectified',
          records: [
            {
              kind: 'member',
              id: 'member-1',
              container: 'list-1',
              result: 'rectified',
              changed: [{ field: 'email_address', beforeHash: 'hmac:before-email' }],
            },
          ],
          recordCount: 1,
          attempts: 1,
        },
        google: { status: 'not_applicable', records: [], attempts: 0, note: 'holds no address' },
      },
      rekeyed: { from: oldKey, to: key, at: '2026-01-10T10:00:01.000Z', moved: { legal_holds: 1 } },
    };
    await ledger.recordRectification(rectification);
    // Under the new address: a hold in force, a held erasure's restriction, another access request.
    await ledger.placeHold({
      subjectKey: key,
      reason: 'legal_obligation',
      placedBy: 'api:ops',
      placedAt: '2026-02-01T10:00:00.000Z',
    });
    const restriction: RestrictionReceipt = {
      requestId: erasureId,
      subjectKey: key,
      hold: { reason: 'legal_obligation', placedAt: '2026-02-01T10:00:00.000Z' },
      restrictedAt: '2026-02-02T10:00:00.000Z',
      outcome: 'restricted',
      systems: {
        dynamics: {
          status: 'restricted',
          records: [
            { kind: 'contact', id: 'contact-1', result: 'restricted', actions: ['donotemail', 'statecode'] },
          ],
          recordCount: 1,
          attempts: 1,
        },
        mailchimp: { status: 'not_found', records: [], attempts: 1 },
        google: { status: 'not_applicable', records: [], attempts: 0, note: 'nothing to restrict' },
      },
    };
    await ledger.recordRestriction(restriction);
    await ledger.recordAccessReceipt(accessReceipt(laterAccessId, key, '2026-02-10T10:00:00.000Z'));
    // Someone else's records stay out.
    await ledger.placeHold({
      subjectKey: otherKey,
      reason: 'authority_order',
      placedBy: 'cli:carol',
      placedAt: '2026-02-01T11:00:00.000Z',
    });
    await ledger.recordAccessReceipt(accessReceipt(randomUUID(), otherKey, '2026-02-11T10:00:00.000Z'));

    const requestId = randomUUID();
    await exports.writeJson(
      requestId,
      'part-google',
      {
        records: [
          {
            kind: 'dataRetention',
            id: 'properties/1/dataRetentionSettings',
            fields: [{ name: 'eventDataRetention', value: 'FOURTEEN_MONTHS' }],
          },
        ],
        statements: [],
      },
      key,
    );
    const activities = createAccessActivities({
      ledger,
      logger: silentLogger,
      subjectKeySecret: secret,
      call: () => Promise.reject(new Error('no vendor is read in this test')),
      exports,
    });
    const files = await activities.assembleAccessExport({
      requestId,
      subjectKey: key,
      subject: { email: `zoe.${run}@example.com`, gaClientIds: ['GA1.1.111.222'], gaUserIds: ['user-7'] },
      requestedAt: '2026-02-20T10:00:00.000Z',
      systems: {
        dynamics: { status: 'closed_by_operator', reason: 'not part of this test' },
        mailchimp: { status: 'closed_by_operator', reason: 'not part of this test' },
        google: { status: 'collected' },
      },
    });

    // Google's counts hold the GA client and user ids the hub knows, besides the property's retention.
    expect(files.counts.google).toEqual({ gaClientId: 1, gaUserId: 1, dataRetention: 1 });
    expect(files.schema).toBe('access-export/v2');
    expect(files.counts.ledger).toEqual({
      legalHold: 2,
      restriction: 1,
      rectification: 1,
      rectificationMove: 1,
      accessReceipt: 2,
    });

    const document = JSON.parse(
      (await exports.read(requestId, 'export.json')).toString('utf8'),
    ) as AccessExportDocument;
    expect(validateAccessExport(document)).toEqual([]);
    expect(document.schema).toBe('access-export/v2');
    const ledgerRecords = document.records.filter((r) => r.source.system === 'ledger');
    const field = (record: AccessExportRecord | undefined, name: string) =>
      record?.fields.find((f) => f.name === name);
    const ofKind = (kind: string) => ledgerRecords.filter((r) => r.source.kind === kind);

    const holds = ofKind('legalHold');
    expect(holds.map((h) => h.category)).toEqual(['legal_holds', 'legal_holds']);
    expect(holds.map((h) => h.fields.map(({ name, value }) => [name, value]))).toEqual([
      [
        ['reason', 'legal_claims'],
        ['placedBy', 'cli:alice'],
        ['placedAt', '2026-01-02T10:00:00.000Z'],
        ['releasedAt', '2026-01-03T10:00:00.000Z'],
        ['releasedBy', 'cli:bob'],
        ['releaseReason', 'resolved'],
      ],
      [
        ['reason', 'legal_obligation'],
        ['placedBy', 'api:ops'],
        ['placedAt', '2026-02-01T10:00:00.000Z'],
      ],
    ]);

    const [restricted] = ofKind('restriction');
    expect(restricted?.source.id).toBe(erasureId);
    expect(restricted?.category).toBe('legal_holds');
    expect(field(restricted, 'systems')?.value).toMatchObject({
      dynamics: {
        status: 'restricted',
        records: [
          { kind: 'contact', id: 'contact-1', result: 'restricted', actions: ['donotemail', 'statecode'] },
        ],
      },
      google: { status: 'not_applicable', note: 'nothing to restrict' },
    });

    const [rectified] = ofKind('rectification');
    expect(rectified?.source.id).toBe(rectificationId);
    expect(field(rectified, 'fields')?.value).toEqual(['email']);
    expect(field(rectified, 'beforeHashes')).toEqual({
      name: 'beforeHashes',
      value: [
        {
          system: 'mailchimp',
          kind: 'member',
          id: 'member-1',
          field: 'email_address',
          beforeHash: 'hmac:before-email',
        },
      ],
      keyed: true,
    });
    expect(field(rectified, 'rekeyedFrom')).toEqual({ name: 'rekeyedFrom', value: oldKey, keyed: true });
    expect(field(rectified, 'rekeyedAt')?.keyed).toBeUndefined();

    const [move] = ofKind('rectificationMove');
    expect(field(move, 'recordKey')).toEqual({ name: 'recordKey', value: 'hmac:moved-member', keyed: true });
    expect(field(move, 'system')?.value).toBe('mailchimp');
    expect(field(move, 'requestId')?.value).toBe(rectificationId);

    // Both earlier access requests, the one under the old address too; nobody else's.
    expect(ofKind('accessReceipt').map((r) => r.source.id)).toEqual([earlierAccessId, laterAccessId]);
    expect(field(ofKind('accessReceipt')[0], 'exportDigest')?.keyed).toBe(true);
    expect(JSON.stringify(document)).not.toContain(otherKey);
    expect(JSON.stringify(document)).not.toContain('authority_order');

    expect(document.statements).toContainEqual(
      expect.objectContaining({ system: 'ledger', topic: 'keyed references' }),
    );
    const html = (await exports.read(requestId, 'export.html')).toString('utf8');
    expect(html).toContain('Legal holds and restrictions');
    expect(html).toContain('(keyed reference)');
  });

  it('keeps the exports written before v2 readable: a v1 document still validates against its own schema', () => {
    const v1: Omit<Partial<AccessExportDocument>, 'schema'> & { schema: string } = {
      $schema: 'https://github.com/consent-hub/consent-hub/docs/schemas/access-export-v1.json',
      schema: 'access-export/v1',
      requestId: randomUUID(),
      subjectKey: 'a'.repeat(64),
      requestedAt: '2026-01-01T00:00:00.000Z',
      generatedAt: '2026-01-01T00:00:01.000Z',
      controller: 'c',
      privacyNotice: 'n',
      subject: { email: 'a@example.com' },
      sources: [{ system: 'ledger', status: 'collected', recordCount: 0 }],
      categories: [],
      records: [],
      statements: [],
    };
    expect(validateAccessExport(v1)).toEqual([]);
    // A keyed marker is v2's: v1's schema refuses it, so a reader of v1 is never handed one.
    const keyedInV1 = {
      ...v1,
      records: [
        {
          source: { system: 'ledger', kind: 'rectificationMove', id: 'x' },
          category: null,
          fields: [{ name: 'recordKey', value: 'hmac:x', keyed: true }],
        },
      ],
    };
    expect(validateAccessExport(keyedInV1)).not.toEqual([]);
    expect(validateAccessExport({ ...v1, schema: 'access-export/v9' })).toEqual([
      '(root) names no published schema version: access-export/v9',
    ]);
  });
});
