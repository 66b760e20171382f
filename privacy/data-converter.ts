import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { type EncryptionKey, formatEncryptionKeys } from './encryption-keys.js';
import { SubjectEncryptionCodec } from './subject-codec.js';
import { SubjectDataKeys, type SubjectKeyStore } from './subject-data-keys.js';

/**
 * The failure converter's module, for the worker's workflow bundle and the SDK's loader: failures carry their
 * message and stack trace as an encoded payload, so the codec encrypts them (privacy/failure-converter.cjs).
 */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/**
 * The payload converter's module, for the same loaders: it converts as the SDK's default does, and marks a
 * value whose payload was never encrypted, so the workflows refuse update input sent past the hub's codec
 * (privacy/payload-converter.cjs).
 */
export const payloadConverterPath = fileURLToPath(new URL('./payload-converter.cjs', import.meta.url));

const memo = new Map<string, DataConverter>();
const withStores = new WeakMap<SubjectKeyStore, Map<string, DataConverter>>();

/**
 * The one data converter that client, worker and CLI share: every payload, and every failure's message and
 * stack trace, goes through the encryption codec. Memoised per key set, so every connection in a process
 * encrypts with the same codec instance.
 */
export function dataConverterFor(keys: EncryptionKey[], subjectKeyStore?: SubjectKeyStore): DataConverter {
  const memoKey = formatEncryptionKeys(keys);
  const cache = subjectKeyStore
    ? (withStores.get(subjectKeyStore) ?? withStores.set(subjectKeyStore, new Map()).get(subjectKeyStore))
    : memo;
  let converter = cache?.get(memoKey);
  if (!converter) {
    // With the ledger's subject keys, a person's payloads are sealed with their own key (crypto-shredding);
    // without (tools that only read), everything is under the master key.
    const codec = subjectKeyStore
      ? new SubjectEncryptionCodec(keys, new SubjectDataKeys(subjectKeyStore, keys))
      : new EncryptionCodec(keys);
    converter = { payloadCodecs: [codec], failureConverterPath, payloadConverterPath };
    cache?.set(memoKey, converter);
  }
  return converter;
}

/** The subject data keys behind a data converter built with a store, to destroy them from the same cache. */
export function subjectDataKeysOf(converter: DataConverter): SubjectDataKeys | undefined {
  const codec = converter.payloadCodecs?.[0];
  return codec instanceof SubjectEncryptionCodec ? codec.subjectKeys : undefined;
}
