import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { type EncryptionKey, formatEncryptionKeys } from './encryption-keys.js';

const memo = new Map<string, DataConverter>();

/**
 * The one data converter that client, worker and CLI share. Memoised per key set, so every connection in a
 * process encrypts with the same codec instance.
 */
export function dataConverterFor(keys: EncryptionKey[]): DataConverter {
  const memoKey = formatEncryptionKeys(keys);
  let converter = memo.get(memoKey);
  if (!converter) {
    converter = { payloadCodecs: [new EncryptionCodec(keys)] };
    memo.set(memoKey, converter);
  }
  return converter;
}
