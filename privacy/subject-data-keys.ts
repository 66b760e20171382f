import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { ValueError } from '@temporalio/common';
import type { Ledger, SubjectDataKeyRecord } from '../ledger/ledger.js';
import type { EncryptionKey } from './encryption-keys.js';

/** Where data keys live: the ledger (or anything with the same four methods). */
export type SubjectKeyStore = Pick<
  Ledger,
  'saveSubjectDataKey' | 'getSubjectDataKey' | 'activeSubjectDataKey' | 'destroySubjectDataKeys'
>;

/** A payload's data key was destroyed by its subject's erasure: what it held is gone for good. */
export class ErasedSubjectKey extends ValueError {
  constructor(readonly keyId: string) {
    super(`This payload belongs to an erased subject: its data key ${keyId} was destroyed`);
  }
}

const ivLength = 12;
const tagLength = 16;
/** How long an unwrapped key is reused in one process before the ledger is asked again. */
const cacheMs = 30_000;

/**
 * Per-subject data keys for crypto-shredding. Each subject gets a random AES-256 key, stored in the ledger
 * wrapped (AES-256-GCM) by the current master key of CONSENT_HUB_ENCRYPTION_KEYS; the wrapping key's id is
 * stored with it, so the master key rotates as payloads do (older master keys keep unwrapping while listed).
 * Destroying a subject's keys erases the wrapped keys: every payload sealed with them, in any history,
 * archive or backup, is unreadable from then on.
 */
export class SubjectDataKeys {
  private readonly masterById: Map<string, Buffer>;
  private readonly current: EncryptionKey;
  private readonly cache = new Map<string, { key: Buffer; subjectKey: string; until: number }>();

  constructor(
    private readonly store: SubjectKeyStore,
    masterKeys: EncryptionKey[],
  ) {
    const [first] = masterKeys;
    if (!first) throw new ValueError('SubjectDataKeys needs at least one master key');
    this.current = first;
    this.masterById = new Map(masterKeys.map((k) => [k.id, k.key]));
  }

  /** The subject's live data key, created (and stored wrapped) the first time. */
  async forEncryption(subjectKey: string): Promise<{ keyId: string; key: Buffer }> {
    const active = await this.store.activeSubjectDataKey(subjectKey);
    if (active?.wrappedKey) return { keyId: active.keyId, key: this.unwrap(active) };
    const key = randomBytes(32);
    const keyId = randomUUID();
    await this.store.saveSubjectDataKey({
      keyId,
      subjectKey,
      wrappedKey: this.wrap(key),
      wrappingKeyId: this.current.id,
      createdAt: new Date().toISOString(),
    });
    this.remember(keyId, subjectKey, key);
    return { keyId, key };
  }

  /** The key for a payload sealed with `keyId`; throws ErasedSubjectKey once it was destroyed. */
  async forDecryption(keyId: string): Promise<Buffer> {
    const cached = this.cache.get(keyId);
    if (cached && cached.until > Date.now()) return cached.key;
    const record = await this.store.getSubjectDataKey(keyId);
    if (!record) throw new ValueError(`Subject data key ${keyId} is not in this ledger`);
    if (!record.wrappedKey) throw new ErasedSubjectKey(keyId);
    return this.unwrap(record);
  }

  /** Destroys the subject's keys created before `createdBefore` (all when absent); answers how many. */
  async destroy(subjectKey: string, createdBefore?: string): Promise<number> {
    for (const [keyId, entry] of this.cache) if (entry.subjectKey === subjectKey) this.cache.delete(keyId);
    return this.store.destroySubjectDataKeys(subjectKey, new Date().toISOString(), createdBefore);
  }

  private wrap(key: Buffer): string {
    const iv = randomBytes(ivLength);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    return Buffer.concat([iv, cipher.update(key), cipher.final(), cipher.getAuthTag()]).toString('base64');
  }

  private unwrap(record: SubjectDataKeyRecord): Buffer {
    const cached = this.cache.get(record.keyId);
    if (cached && cached.until > Date.now()) return cached.key;
    const master = this.masterById.get(record.wrappingKeyId ?? '');
    if (!master)
      throw new ValueError(
        `Master key "${record.wrappingKeyId}" wraps a subject data key; keep it in CONSENT_HUB_ENCRYPTION_KEYS`,
      );
    const data = Buffer.from(record.wrappedKey ?? '', 'base64');
    const decipher = createDecipheriv('aes-256-gcm', master, data.subarray(0, ivLength));
    decipher.setAuthTag(data.subarray(data.length - tagLength));
    const key = Buffer.concat([
      decipher.update(data.subarray(ivLength, data.length - tagLength)),
      decipher.final(),
    ]);
    this.remember(record.keyId, record.subjectKey, key);
    return key;
  }

  private remember(keyId: string, subjectKey: string, key: Buffer) {
    this.cache.set(keyId, { key, subjectKey, until: Date.now() + cacheMs });
  }
}
