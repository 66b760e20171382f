import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, ValueError } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { EncryptionKey } from './encryption-keys.js';

// @temporalio/proto is CommonJS: under Node's ESM loader only its default export is visible.
const { temporal } = proto;

export const encryptedEncoding = 'binary/encrypted';
export const keyIdMetadataKey = 'encryption-key-id';
/**
 * Added by decode to a payload that was never encrypted (sent past the hub's codec: `temporal workflow
 * update` without `--codec-endpoint`, another SDK's client), so the workflows' payload converter marks the
 * value (privacy/payload-converter.cjs) and an update's validator can refuse it (workflows/operator-gate.ts).
 */
export const unencodedMetadataKey = 'consent-hub-unencoded';
const ivLength = 12;
const tagLength = 16;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/**
 * Encrypts every Temporal payload (workflow inputs and results, activity arguments, signals, queries, memos)
 * with AES-256-GCM, so that emails and names never sit in clear in Temporal's database or UI. The whole
 * original payload, metadata included, is encrypted; the key id travels in the new payload's metadata.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keysById: Map<string, Buffer>;
  private readonly current: EncryptionKey;

  constructor(keys: EncryptionKey[]) {
    const [first] = keys;
    if (!first) throw new ValueError('EncryptionCodec needs at least one key');
    this.current = first;
    this.keysById = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(ivLength);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8.encode(encryptedEncoding),
          [keyIdMetadataKey]: utf8.encode(this.current.id),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      // Payloads written before encryption was on, or by other tools, pass through, marked as such.
      if (!encoding || fromUtf8.decode(encoding) !== encryptedEncoding)
        return { ...payload, metadata: { ...payload.metadata, [unencodedMetadataKey]: utf8.encode('1') } };
      const keyIdBytes = payload.metadata?.[keyIdMetadataKey];
      if (!keyIdBytes) throw new ValueError('Encrypted payload has no key id');
      const keyId = fromUtf8.decode(keyIdBytes);
      const key = this.keysById.get(keyId);
      if (!key)
        throw new ValueError(
          `No encryption key "${keyId}" is configured; add it to CONSENT_HUB_ENCRYPTION_KEYS`,
        );
      const data = Buffer.from(payload.data ?? new Uint8Array());
      const iv = data.subarray(0, ivLength);
      const tag = data.subarray(data.length - tagLength);
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(data.subarray(ivLength, data.length - tagLength)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
