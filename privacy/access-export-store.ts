import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncryptionKey } from './encryption-keys.js';

/** The request's export was never written, or was deleted when its time ran out. */
export class AccessExportMissing extends Error {
  override readonly name = 'AccessExportMissing';
}

const magic = Buffer.from('CHX1', 'ascii');
const requestIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const namePattern = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Access exports (the portable JSON, the HTML report, and each system's gathered part before they are put
 * together), encrypted at rest in a directory (CONSENT_HUB_EXPORT_DIR): `<dir>/<request id>/<name>.enc`.
 *
 * Each file is AES-256-GCM under the first of the hub's master keys (CONSENT_HUB_ENCRYPTION_KEYS), with a
 * fresh 96-bit IV: `CHX1`, the key id's length (1 byte) and id, the IV, the 16-byte tag, the ciphertext. The
 * request id and file name are the additional data, so a file moved to another request or name does not
 * decrypt. Older keys still in the list decrypt, so keys rotate as payload keys do.
 */
export class AccessExportStore {
  constructor(
    readonly directory: string,
    private readonly keys: EncryptionKey[],
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

  /** Writes one file atomically (a temporary file renamed over it); answers its size in bytes. */
  async write(requestId: string, name: string, content: string | Buffer): Promise<number> {
    const [key] = this.keys;
    if (!key) throw new Error('no encryption key');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(`${requestId.toLowerCase()}/${name}`, 'utf8'));
    const body = Buffer.concat([cipher.update(content), cipher.final()]);
    const keyId = Buffer.from(key.id, 'utf8');
    const sealed = Buffer.concat([magic, Buffer.from([keyId.length]), keyId, iv, cipher.getAuthTag(), body]);
    await mkdir(this.folder(requestId), { recursive: true, mode: 0o700 });
    const target = this.file(requestId, name);
    const temporary = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, sealed, { mode: 0o600 });
    await rename(temporary, target);
    return sealed.length;
  }

  /** The decrypted file; AccessExportMissing when it does not exist (never written, or deleted). */
  async read(requestId: string, name: string): Promise<Buffer> {
    let sealed: Buffer;
    try {
      sealed = await readFile(this.file(requestId, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new AccessExportMissing(
          `no ${name} for this request (never written, or deleted when it expired)`,
        );
      throw error;
    }
    if (!sealed.subarray(0, 4).equals(magic)) throw new Error('not an encrypted export file');
    const idLength = sealed[4] ?? 0;
    const keyId = sealed.subarray(5, 5 + idLength).toString('utf8');
    const key = this.keys.find((k) => k.id === keyId);
    if (!key) throw new Error(`the export was encrypted with key "${keyId}", which is no longer configured`);
    const at = 5 + idLength;
    const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.subarray(at, at + 12));
    decipher.setAAD(Buffer.from(`${requestId.toLowerCase()}/${name}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(at + 12, at + 28));
    return Buffer.concat([decipher.update(sealed.subarray(at + 28)), decipher.final()]);
  }

  async writeJson(requestId: string, name: string, value: unknown): Promise<number> {
    return this.write(requestId, name, JSON.stringify(value));
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

  /** Deletes every file of the request; answers how many there were (0 when already gone). */
  async deleteAll(requestId: string): Promise<number> {
    const folder = this.folder(requestId);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    await rm(folder, { recursive: true, force: true });
    return names.filter((name) => name.endsWith('.enc')).length;
  }
}
