import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncryptionKey } from './encryption-keys.js';
import { ErasedSubjectKey, type SubjectDataKeys } from './subject-data-keys.js';

/** The request's export was never written, or was deleted when its time ran out. */
export class AccessExportMissing extends Error {
  override readonly name: string = 'AccessExportMissing';
}

/**
 * The request's subject was erased: their export was deleted with them, or (a copy kept somewhere) its data
 * key was destroyed, so it can never be read again. The message names the request, never the person.
 */
export class AccessExportErased extends AccessExportMissing {
  override readonly name = 'AccessExportErased';
}

/** Written under the master key (exports from before per-subject keys). */
const magic = Buffer.from('CHX1', 'ascii');
/** Written under the subject's data key (crypto-shredding): unreadable once the subject is erased. */
const subjectMagic = Buffer.from('CHX2', 'ascii');
/** Left in a request's folder when its subject's erasure deleted the export: a fetch then says so. */
const erasedMarker = 'erased';
const requestIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const namePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Access exports (the portable JSON, the HTML report, and each system's gathered part before they are put
 * together), encrypted at rest in a directory (CONSENT_HUB_EXPORT_DIR): `<dir>/<request id>/<name>.enc`.
 *
 * Each file is AES-256-GCM with a fresh 96-bit IV: `CHX2`, the key id's length (1 byte) and id, the IV, the
 * 16-byte tag, the ciphertext. The key is the subject's own data key (privacy/subject-data-keys.ts, kept
 * wrapped in the ledger, destroyed by the subject's erasure), so an export, or any copy or backup of it,
 * becomes unreadable when the person is erased, as their workflow payloads do. A file written without a
 * subject (or by a store without data keys) is `CHX1` under the first of the hub's master keys
 * (CONSENT_HUB_ENCRYPTION_KEYS); older master keys still in the list decrypt, so keys rotate. The request id
 * and file name are the additional data, so a file moved to another request or name does not decrypt.
 */
export class AccessExportStore {
  constructor(
    readonly directory: string,
    private readonly keys: EncryptionKey[],
    /** The subjects' data keys; without them, exports are sealed with the master key (and not shredded). */
    private readonly subjectKeys?: SubjectDataKeys,
  ) {
    if (keys.length === 0) throw new Error('the export store needs at least one encryption key');
  }

  private folder(requestId: string): string {
    if (!requestIdPattern.test(requestId)) throw new AccessExportMissing('not a request id');
    return join(this.directory, requestId.toLowerCase());
  }

  private file(requestId: string, name: string): string {
    if (!namePattern.test(name)) throw new Error(`not an export file name: ${name}`);
    return join(this.folder(requestId), `${name}.enc`);
  }

  /**
   * Writes one file atomically (a temporary file renamed over it), sealed with `subjectKey`'s data key when
   * given (see the class); answers its size in bytes. Throws AccessExportErased when the request's subject was
   * erased (`eraseRequest`), checked before (so an erased person gets no new data key) and after the rename
   * (an erasure that ran meanwhile): an activity still writing then must not bring the export back.
   */
  async write(
    requestId: string,
    name: string,
    content: string | Buffer,
    subjectKey?: string,
  ): Promise<number> {
    const erased = () =>
      new AccessExportErased("this request's export was deleted when its subject was erased");
    if (await this.wasErased(requestId)) throw erased();
    const [master] = this.keys;
    if (!master) throw new Error('no encryption key');
    const key =
      subjectKey && this.subjectKeys
        ? { header: subjectMagic, ...(await this.subjectKeys.forEncryption(subjectKey)) }
        : { header: magic, keyId: master.id, key: master.key };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(`${requestId.toLowerCase()}/${name}`, 'utf8'));
    const body = Buffer.concat([cipher.update(content), cipher.final()]);
    const keyId = Buffer.from(key.keyId, 'utf8');
    const sealed = Buffer.concat([
      key.header,
      Buffer.from([keyId.length]),
      keyId,
      iv,
      cipher.getAuthTag(),
      body,
    ]);
    await mkdir(this.folder(requestId), { recursive: true, mode: 0o700 });
    const target = this.file(requestId, name);
    const temporary = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, sealed, { mode: 0o600 });
    await rename(temporary, target);
    if (await this.wasErased(requestId)) {
      await rm(target, { force: true });
      throw erased();
    }
    return sealed.length;
  }

  /**
   * The decrypted file; AccessExportErased when the subject's erasure deleted it (its marker is there, even
   * beside a file a late write left) or destroyed its key,
   * AccessExportMissing when it does not exist (never written, or deleted when it expired).
   */
  async read(requestId: string, name: string): Promise<Buffer> {
    // The marker wins over a file a late write left behind: the erasure's word is final.
    if (await this.wasErased(requestId))
      throw new AccessExportErased("this request's export was deleted when its subject was erased");
    let sealed: Buffer;
    try {
      sealed = await readFile(this.file(requestId, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (await this.wasErased(requestId))
        throw new AccessExportErased("this request's export was deleted when its subject was erased");
      throw new AccessExportMissing(
        `no ${name} for this request (never written, or deleted when it expired)`,
      );
    }
    return this.open(requestId, name, sealed);
  }

  /** Decrypts a sealed export file's bytes, as `read` does (a copy or backup of one, say). */
  async open(requestId: string, name: string, sealed: Buffer): Promise<Buffer> {
    const header = sealed.subarray(0, 4);
    const idLength = sealed[4] ?? 0;
    const keyId = sealed.subarray(5, 5 + idLength).toString('utf8');
    let key: Buffer;
    if (header.equals(subjectMagic)) {
      if (!this.subjectKeys)
        throw new Error('this export is sealed with a subject data key; open the store with them');
      try {
        key = await this.subjectKeys.forDecryption(keyId);
      } catch (error) {
        if (error instanceof ErasedSubjectKey)
          throw new AccessExportErased("this export's subject was erased: its data key was destroyed");
        throw error;
      }
    } else if (header.equals(magic)) {
      const master = this.keys.find((k) => k.id === keyId);
      if (!master)
        throw new Error(`the export was encrypted with key "${keyId}", which is no longer configured`);
      key = master.key;
    } else throw new Error('not an encrypted export file');
    const at = 5 + idLength;
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(at, at + 12));
    decipher.setAAD(Buffer.from(`${requestId.toLowerCase()}/${name}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(at + 12, at + 28));
    return Buffer.concat([decipher.update(sealed.subarray(at + 28)), decipher.final()]);
  }

  async writeJson(requestId: string, name: string, value: unknown, subjectKey?: string): Promise<number> {
    return this.write(requestId, name, JSON.stringify(value), subjectKey);
  }

  async readJson(requestId: string, name: string): Promise<unknown> {
    return JSON.parse((await this.read(requestId, name)).toString('utf8'));
  }

  async exists(requestId: string, name: string): Promise<boolean> {
    try {
      await stat(this.file(requestId, name));
      return true;
    } catch {
      return false;
    }
  }

  async remove(requestId: string, name: string): Promise<void> {
    await rm(this.file(requestId, name), { force: true });
  }

  /** True when the request's export was deleted by its subject's erasure (`eraseRequest`). */
  async wasErased(requestId: string): Promise<boolean> {
    try {
      await stat(join(this.folder(requestId), erasedMarker));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Deletes the request's files because its subject was erased, and leaves a marker (no data, only the fact)
   * so that a fetch answers that the export went with the erasure; answers how many files there were. The
   * request's own expiry (`deleteAll`) removes the marker with the folder.
   */
  async eraseRequest(requestId: string): Promise<number> {
    const folder = this.folder(requestId);
    const names = await filesIn(folder);
    if (names === undefined) return 0;
    const sealed = names.filter((name) => name.endsWith('.enc') || name.endsWith('.tmp'));
    await writeFile(join(folder, erasedMarker), '', { mode: 0o600 });
    for (const name of sealed) await rm(join(folder, name), { force: true });
    return sealed.filter((name) => name.endsWith('.enc')).length;
  }

  /** Deletes every file of the request; answers how many there were (0 when already gone). */
  async deleteAll(requestId: string): Promise<number> {
    const folder = this.folder(requestId);
    const names = await filesIn(folder);
    if (names === undefined) return 0;
    await rm(folder, { recursive: true, force: true });
    return names.filter((name) => name.endsWith('.enc')).length;
  }
}

/** The names in `folder`, or undefined when it does not exist (its request's files are already gone). */
async function filesIn(folder: string): Promise<string[] | undefined> {
  try {
    return await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
