import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { EncryptionCodec, encryptedEncoding } from './encryption-codec.js';
import type { EncryptionKey } from './encryption-keys.js';
import type { SubjectDataKeys } from './subject-data-keys.js';

// @temporalio/proto is CommonJS: under Node's ESM loader only its default export is visible.
const { temporal } = proto;

export const subjectKeyIdMetadataKey = 'subject-data-key-id';
const ivLength = 12;
const tagLength = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();
const subjectKeyPattern = /^[0-9a-f]{64}$/;

/**
 * Fields that carry a person's data in the hub's workflow and activity payloads: workflow inputs (`request`,
 * `email`), connector activity inputs (`subject`) and results (`gaClientIds`, `gaUserIds`, `names` found in
 * the CRM).
 */
const personalFields = ['email', 'subject', 'request', 'gaClientIds', 'gaUserIds', 'names'];

/**
 * The field the failure converter adds (with `subjectKey`) to a failure's message and stack trace and to its
 * details when the failure came from a call that carried the person's data (privacy/failure-subject.ts): a
 * vendor's error text may name them, so it is sealed with their data key and the shred reaches it.
 */
export const subjectTextField = 'subjectText';

/**
 * The subject a payload is about, when it is personal: a JSON object that names its `subjectKey` and holds
 * one of the personal fields. Receipts, status views and ledger writes name a subject but hold no personal
 * data, so they stay under the master key and remain readable after the subject's erasure.
 */
export function personalSubjectOf(payload: Payload): string | undefined {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  if (!encoding || fromUtf8.decode(encoding) !== 'json/plain' || !payload.data) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8.decode(payload.data));
  } catch {
    return undefined;
  }
  return personalSubjectOfValue(value);
}

/**
 * The subject a value is about, when it holds their data: an object that names its `subjectKey` and holds
 * one of the personal fields (or `subjectTextField`). Shape: the 64-hex subject key, or undefined.
 */
export function personalSubjectOfValue(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const subjectKey = record.subjectKey;
  if (typeof subjectKey !== 'string' || !subjectKeyPattern.test(subjectKey)) return undefined;
  return personalFields.some((field) => field in record) || record[subjectTextField] === true
    ? subjectKey
    : undefined;
}

/**
 * The hub's payload codec with crypto-shredding: a personal payload (personalSubjectOf) is sealed with its
 * subject's own data key (AES-256-GCM, the key id in the metadata), everything else with the master key
 * (EncryptionCodec). Once the subject's key is destroyed, their payloads cannot be decoded by anyone:
 * decode throws ErasedSubjectKey.
 */
export class SubjectEncryptionCodec implements PayloadCodec {
  private readonly master: EncryptionCodec;

  constructor(
    masterKeys: EncryptionKey[],
    readonly subjectKeys: SubjectDataKeys,
  ) {
    this.master = new EncryptionCodec(masterKeys);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map(async (payload) => {
        const subjectKey = personalSubjectOf(payload);
        if (!subjectKey) return (await this.master.encode([payload]))[0] as Payload;
        const { keyId, key } = await this.subjectKeys.forEncryption(subjectKey);
        const plain = temporal.api.common.v1.Payload.encode(payload).finish();
        const iv = randomBytes(ivLength);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        return {
          metadata: {
            [METADATA_ENCODING_KEY]: utf8.encode(encryptedEncoding),
            [subjectKeyIdMetadataKey]: utf8.encode(keyId),
          },
          data: Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]),
        };
      }),
    );
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.decodeOne(payload)));
  }

  private async decodeOne(payload: Payload): Promise<Payload> {
    const keyIdBytes = payload.metadata?.[subjectKeyIdMetadataKey];
    if (!keyIdBytes) return (await this.master.decode([payload]))[0] as Payload;
    const key = await this.subjectKeys.forDecryption(fromUtf8.decode(keyIdBytes));
    const data = Buffer.from(payload.data ?? new Uint8Array());
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, ivLength));
    decipher.setAuthTag(data.subarray(data.length - tagLength));
    const plain = Buffer.concat([
      decipher.update(data.subarray(ivLength, data.length - tagLength)),
      decipher.final(),
    ]);
    return temporal.api.common.v1.Payload.decode(plain);
  }
}
