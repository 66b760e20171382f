import { AsyncLocalStorage } from 'node:async_hooks';
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

/** The subject of the code running now, or undefined outside a subject's call. */
export function currentRedactionSubject(): RedactionSubject | undefined {
  return storage.getStore();
}

/**
 * Redacts the current subject (if any) from every string inside a value, to any depth: what a log line is
 * made of. Answers the value itself when there is no current subject or nothing changed.
 */
export function redactForCurrentSubject<T>(value: T): T {
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
