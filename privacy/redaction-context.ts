import { AsyncLocalStorage } from 'node:async_hooks';
import { withheldBatchWords } from '../domain/redaction-names.js';
import { type RedactionSubject, redactSubject } from './redaction.js';

/**
 * The person the code running now is about, carried implicitly (like the call signal) so that every log
 * line written inside a connector call is redacted for them: connectors log vendor error reasons, which can
 * quote the person's address or the name the CRM holds, and they do not know whom they are serving.
 */
const storage = new AsyncLocalStorage<RedactionSubject>();

/** Runs `run` with `subject` as the person every log line inside it is redacted for. */
export function runForSubject<T>(subject: RedactionSubject, run: () => Promise<T>): Promise<T> {
  return storage.run(subject, run);
}

const wordsWithheld = new AsyncLocalStorage<true>();

/**
 * Runs `run` (a vendor call for many people at once) so that every log line inside it keeps no vendor words:
 * each `reason`, `message`, `detail`, `title` or `body` field and each error's message becomes
 * `withheldBatchWords` (an error keeps its stack frames). Codes, statuses and counts stay.
 */
export function runWithVendorWordsWithheld<T>(run: () => Promise<T>): Promise<T> {
  return wordsWithheld.run(true, run);
}

// `err`/`error` as strings (a caught error's message logged by itself), `text` (an HTTP client's raw body),
// `description`/`error_description` (OAuth and problem+json bodies) carry a vendor's words as much as `reason`.
const wordFields = new Set([
  'reason',
  'message',
  'detail',
  'details',
  'title',
  'body',
  'text',
  'err',
  'error',
  'description',
  'error_description',
]);

function withholdWords(value: unknown, depth: number): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => withholdWords(item, depth + 1));
  if (value instanceof Error) {
    // Its own fields too (a VendorError's `reason`, an SDK error's `response`), which the log's error
    // serializer writes beside its message.
    const fields = withholdWords({ ...value }, depth + 1) as Record<string, unknown>;
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value)), fields) as Error;
    copy.message = withheldBatchWords;
    const frames = (value.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    copy.stack = [`${value.name}: ${withheldBatchWords}`, ...frames].join('\n');
    return copy;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      typeof inner === 'string' && wordFields.has(key) ? withheldBatchWords : withholdWords(inner, depth + 1),
    ]),
  );
}

/** The subject of the code running now, or undefined outside a subject's call. */
export function currentRedactionSubject(): RedactionSubject | undefined {
  return storage.getStore();
}

/**
 * Redacts the current subject (if any) from every string inside a value, to any depth: what a log line is
 * made of. Answers the value itself when there is no current subject or nothing changed.
 */
export function redactForCurrentSubject<T>(value: T): T {
  // A log line's own message (a string argument) is the hub's words; the fields beside it may be the vendor's.
  if (wordsWithheld.getStore()) return withholdWords(value, 0) as T;
  const subject = currentRedactionSubject();
  if (!subject) return value;
  return redactDeep(value, subject, 0) as T;
}

function redactDeep(value: unknown, subject: RedactionSubject, depth: number): unknown {
  if (typeof value === 'string') return redactSubject(value, subject);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, subject, depth + 1));
  if (value instanceof Error) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value)), value) as Error;
    copy.message = redactSubject(value.message, subject);
    if (value.stack) copy.stack = redactSubject(value.stack, subject);
    return copy;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key, redactDeep(inner, subject, depth + 1)]),
  );
}
