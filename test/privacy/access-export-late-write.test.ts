import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportErased, AccessExportStore } from '../../privacy/access-export-store.js';
import type { EncryptionKey } from '../../privacy/encryption-keys.js';
import { SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { silentLogger } from '../support/temporal.js';

/**
 * An access request's activity still writing when its subject's erasure deletes the export (a retry after a
 * worker was killed mid-write, a slow disk): what it writes afterwards must not bring the export back, nor
 * give an erased person a new data key that would make it readable again.
 */
describe('an access export written after its subject was erased', () => {
  let ledger: Ledger;
  let keys: SubjectDataKeys;
  let directory: string;
  const master: EncryptionKey[] = [{ id: 'k1', key: randomBytes(32) }];
  const subjectKey = randomBytes(32).toString('hex');

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'late-export-ledger-')) }, silentLogger);
    keys = new SubjectDataKeys(ledger, master);
    directory = mkdtempSync(join(tmpdir(), 'late-export-'));
  });
  afterAll(() => ledger?.close());

  it('is refused once the erasure deleted the export, before or after the key was shredded, and creates no key', async () => {
    const store = new AccessExportStore(directory, master, keys);
    const requestId = randomUUID();
    await store.write(requestId, 'part-dynamics', '{"firstname":"Winifred"}', subjectKey);
    expect(await store.eraseRequest(requestId)).toBe(1);

    // Before the shred: the late write is refused and leaves nothing behind.
    await expect(
      store.write(requestId, 'export.json', '{"email":"w@example.org"}', subjectKey),
    ).rejects.toBeInstanceOf(AccessExportErased);
    expect(readdirSync(join(directory, requestId)).filter((name) => name !== 'erased')).toEqual([]);

    // After the shred: still refused, and no new data key is made for the erased person.
    expect(await keys.destroy(subjectKey)).toBe(1);
    await expect(store.write(requestId, 'export.html', '<p>Winifred</p>', subjectKey)).rejects.toBeInstanceOf(
      AccessExportErased,
    );
    expect(await ledger.activeSubjectDataKey(subjectKey)).toBeUndefined();
    await expect(store.read(requestId, 'export.html')).rejects.toBeInstanceOf(AccessExportErased);
  });

  it('answers erased for a file that reappeared in an erased request folder while its key still lives', async () => {
    const store = new AccessExportStore(directory, master, keys);
    const requestId = randomUUID();
    const otherSubject = randomBytes(32).toString('hex');
    await store.write(requestId, 'export.json', '{"email":"x@example.org"}', otherSubject);
    const file = join(directory, requestId, 'export.json.enc');
    const sealed = readFileSync(file);
    await store.eraseRequest(requestId);
    // As a write that renamed its file into place just after the erasure listed the folder would leave it.
    writeFileSync(file, sealed);
    expect(existsSync(file)).toBe(true);
    await expect(store.read(requestId, 'export.json')).rejects.toBeInstanceOf(AccessExportErased);
  });
});
