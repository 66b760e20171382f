import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EncryptionCodec, unencodedMetadataKey } from '../../privacy/encryption-codec.js';
import { encryptionKeysSchema, formatEncryptionKeys } from '../../privacy/encryption-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('payload encryption codec', () => {
  it('round-trips a payload and hides its content', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const payload = defaultPayloadConverter.toPayload({ email: 'ada@example.com' });
    const [encoded] = await codec.encode([payload]);
    expect(Buffer.from(encoded?.data ?? []).toString('utf8')).not.toContain('ada@example.com');
    expect(Buffer.from(encoded?.metadata?.['encryption-key-id'] ?? []).toString()).toBe('k1');
    const [decoded] = await codec.decode([encoded as NonNullable<typeof encoded>]);
    expect(defaultPayloadConverter.fromPayload(decoded as NonNullable<typeof decoded>)).toEqual({
      email: 'ada@example.com',
    });
  });

  it('decrypts payloads written under an older key after rotation, and encrypts with the first key', async () => {
    const oldKey = key('old');
    const newKey = key('new');
    const [written] = await new EncryptionCodec([oldKey]).encode([
      defaultPayloadConverter.toPayload('hello'),
    ]);
    const rotated = new EncryptionCodec([newKey, oldKey]);
    const [read] = await rotated.decode([written as NonNullable<typeof written>]);
    expect(defaultPayloadConverter.fromPayload(read as NonNullable<typeof read>)).toBe('hello');
    const [fresh] = await rotated.encode([defaultPayloadConverter.toPayload('x')]);
    expect(Buffer.from(fresh?.metadata?.['encryption-key-id'] ?? []).toString()).toBe('new');
  });

  it('refuses a payload whose key is unknown, naming the key id and the variable to fix', async () => {
    const [written] = await new EncryptionCodec([key('gone')]).encode([defaultPayloadConverter.toPayload(1)]);
    await expect(
      new EncryptionCodec([key('other')]).decode([written as NonNullable<typeof written>]),
    ).rejects.toThrow(/"gone".*CONSENT_HUB_ENCRYPTION_KEYS/);
  });

  it('rejects a tampered payload instead of returning garbage', async () => {
    const codec = new EncryptionCodec([key('k')]);
    const [written] = await codec.encode([defaultPayloadConverter.toPayload('value')]);
    const data = Buffer.from(written?.data ?? []);
    data[20] = (data[20] ?? 0) ^ 0xff;
    await expect(codec.decode([{ ...written, data }])).rejects.toThrow();
  });

  it('passes unencrypted payloads through, their data unchanged and their metadata marked as never encoded', async () => {
    const plain = defaultPayloadConverter.toPayload('plain');
    const codec = new EncryptionCodec([key('k')]);
    const [decoded] = await codec.decode([plain]);
    expect(decoded?.data).toBe(plain.data);
    expect(decoded?.metadata?.encoding).toBe(plain.metadata?.encoding);
    expect(Object.keys(decoded?.metadata ?? {})).toContain(unencodedMetadataKey);
    expect(defaultPayloadConverter.fromPayload(decoded as typeof plain)).toBe('plain');
    const [encoded] = await codec.encode([plain]);
    const [roundTrip] = await codec.decode([encoded as typeof plain]);
    expect(Object.keys(roundTrip?.metadata ?? {})).not.toContain(unencodedMetadataKey);
  });
});

describe('CONSENT_HUB_ENCRYPTION_KEYS', () => {
  it('parses several id:base64 keys in order', () => {
    const keys = [key('a'), key('b')];
    const parsed = encryptionKeysSchema.parse(formatEncryptionKeys(keys));
    expect(parsed.map((k) => k.id)).toEqual(['a', 'b']);
    expect(parsed[0]?.key.equals(keys[0]?.key as Buffer)).toBe(true);
  });

  it('explains a short key and a malformed entry without echoing the value', () => {
    const shortKey = Buffer.alloc(16, 7).toString('base64');
    const result = encryptionKeysSchema.safeParse(`k1:${shortKey},nocolon`);
    expect(result.success).toBe(false);
    const messages = result.error?.issues.map((i) => i.message) ?? [];
    expect(messages).toEqual([
      'key "k1" is 16 bytes; AES-256 needs 32',
      'entry 2 is not of the form id:base64',
    ]);
    expect(messages.join(' ')).not.toContain(shortKey);
  });
});

describe('subject key', () => {
  it('is the same for any case and surrounding whitespace, and differs per secret', () => {
    const secret = 'x'.repeat(32);
    expect(subjectKeyFor('  Ada@Example.COM ', secret)).toBe(subjectKeyFor('ada@example.com', secret));
    expect(subjectKeyFor('ada@example.com', secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(subjectKeyFor('ada@example.com', 'y'.repeat(32))).not.toBe(
      subjectKeyFor('ada@example.com', secret),
    );
  });
});
