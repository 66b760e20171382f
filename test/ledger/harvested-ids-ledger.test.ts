import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../ledger/ledger.js';
import { openIdentifiers, sealIdentifiers } from '../../privacy/sealed-identifiers.js';
import { ErasedSubjectKey, SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { ledgerBackends, withFreshLedger } from './backends.js';

describe.each(ledgerBackends)('harvested GA id pages in the ledger on $name', (backend) => {
  let ledger: Ledger;
  let keys: SubjectDataKeys;

  withFreshLedger(backend, (fresh) => {
    ledger = fresh;
    keys = new SubjectDataKeys(ledger, [{ id: 'test', key: randomBytes(32) }]);
  });

  it('keeps pages sealed with the subject key, replaces them on a repeated harvest, marks each submitted, and cannot open them once the key is destroyed', async () => {
    const requestId = randomUUID();
    const subjectKey = randomBytes(32).toString('hex');
    const ids = ['1111.2222', '3333.4444', '5555.6666'];
    const context = (page: number) => `${requestId}/harvested-ga-client-ids/${page}`;
    const sealed = [
      { page: 0, count: 2, sealed: await sealIdentifiers(keys, subjectKey, context(0), ids.slice(0, 2)) },
      { page: 1, count: 1, sealed: await sealIdentifiers(keys, subjectKey, context(1), ids.slice(2)) },
    ];
    await ledger.saveHarvestedIdPages(requestId, [
      { page: 0, count: 9, sealed: 'stale' },
      { page: 5, count: 9, sealed: 'stale' },
    ]);
    await ledger.saveHarvestedIdPages(requestId, sealed);
    const pages = await ledger.listHarvestedIdPages(requestId);
    expect(pages).toEqual(sealed);
    expect(JSON.stringify(pages)).not.toMatch(/1111|3333|5555/);
    expect(await openIdentifiers(keys, context(0), pages[0]?.sealed ?? '')).toEqual(ids.slice(0, 2));
    // A page moved to another position (or request) does not open.
    await expect(openIdentifiers(keys, context(1), pages[0]?.sealed ?? '')).rejects.toThrow();

    await ledger.markHarvestedIdPageSubmitted(requestId, 1, '2026-11-30T06:00:00.000Z');
    expect((await ledger.listHarvestedIdPages(requestId)).map((p) => p.submittedAt)).toEqual([
      undefined,
      '2026-11-30T06:00:00.000Z',
    ]);
    expect(await ledger.listHarvestedIdPages(randomUUID())).toEqual([]);

    await keys.destroy(subjectKey);
    await expect(openIdentifiers(keys, context(0), pages[0]?.sealed ?? '')).rejects.toBeInstanceOf(
      ErasedSubjectKey,
    );
  });
  it("records a consent lane's accepted Google deletions per withdrawal once each, keeping the first time, on both backends", async () => {
    const scope = `consent/${randomBytes(8).toString('hex')}/${randomUUID()}`;
    await ledger.recordGoogleSubmissions(
      scope,
      [
        { recordKey: 'userDeletionRequest|properties/1|k1', vendorTime: '2026-11-30T01:00:00.000Z' },
        { recordKey: 'userDeletionRequest|properties/1|k2' },
      ],
      '2026-11-30T01:00:01.000Z',
    );
    // A repeated record (a retry that recorded the same acceptance) keeps the first entry.
    await ledger.recordGoogleSubmissions(
      scope,
      [{ recordKey: 'userDeletionRequest|properties/1|k1', vendorTime: '2026-12-01T01:00:00.000Z' }],
      '2026-12-01T01:00:01.000Z',
    );
    const listed = await ledger.listGoogleSubmissions(scope);
    expect(listed.sort((a, b) => a.recordKey.localeCompare(b.recordKey))).toEqual([
      { recordKey: 'userDeletionRequest|properties/1|k1', vendorTime: '2026-11-30T01:00:00.000Z' },
      { recordKey: 'userDeletionRequest|properties/1|k2' },
    ]);
    expect(await ledger.listGoogleSubmissions(`${scope}-other`)).toEqual([]);
  });
});
