import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { type EncryptionKey, formatEncryptionKeys } from './encryption-keys.js';

/**
 * The failure converter's module, for the worker's workflow bundle and the SDK's loader: failures carry their
 * message and stack trace as an encoded payload, so the codec encrypts them (privacy/failure-converter.cjs).
 */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

const memo = new Map<string, DataConverter>();

/**
 * The one data converter that client, worker and CLI share: every payload, and every failure's message and
 * stack trace, goes through the encryption codec. Memoised per key set, so every connection in a process
 * encrypts with the same codec instance.
 */
export function dataConverterFor(keys: EncryptionKey[]): DataConverter {
  const memoKey = formatEncryptionKeys(keys);
  let converter = memo.get(memoKey);
  if (!converter) {
    converter = { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath };
    memo.set(memoKey, converter);
  }
  return converter;
}
