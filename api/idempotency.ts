import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Ledger } from '../ledger/ledger.js';
import { ApiProblem } from './problem.js';

/** Printable ASCII, as most clients generate (UUIDs, ULIDs, ticket ids). */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, { error: 'must be 1 to 255 printable ASCII characters' });

/** JSON with object keys sorted, so two bodies that differ only in key order count as the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The route is part of the hash: one key used on two routes is a conflict, not a replay. */
export function requestHash(route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${route}\n${canonicalJson(body)}`)
    .digest('hex');
}

export interface Answer {
  status: number;
  body: unknown;
  /** True when this is the stored answer to an earlier request with the same key. */
  replayed: boolean;
}

/**
 * Runs `work` at most once per (caller, key): the first answer is stored in the ledger (written once) and
 * replayed for a retry with the same body; a different body with the same key gets 409. Without a key, `work`
 * just runs. Only successful answers are stored, so a retry after a failure does the work again.
 *
 * Two identical requests racing with a new key may both run `work`; the ledger keeps one answer and both
 * callers get it. Both routes that use this are safe to run twice (an erasure joins the running one; a
 * repeated consent change is recorded as evidence and changes nothing in the tools).
 */
export async function idempotent(
  ledger: Ledger,
  options: { scope: string; key: string | undefined; route: string; body: unknown },
  work: () => Promise<{ status: number; body: unknown }>,
): Promise<Answer> {
  if (options.key === undefined) return { ...(await work()), replayed: false };
  const storeKey = `${options.scope}:${options.key}`;
  const hash = requestHash(options.route, options.body);
  const existing = await ledger.getIdempotentResponse(storeKey);
  if (existing) return replay(existing, hash, true);
  const answer = await work();
  const saved = await ledger.saveIdempotentResponse({
    key: storeKey,
    requestHash: hash,
    status: answer.status,
    body: answer.body,
    createdAt: new Date().toISOString(),
  });
  return replay(saved.record, hash, !saved.inserted);
}

function replay(
  record: { requestHash: string; status: number; body: unknown },
  hash: string,
  replayed: boolean,
) {
  if (record.requestHash !== hash) {
    throw new ApiProblem(
      409,
      'Idempotency-Key reused',
      'This Idempotency-Key was first used with a different request; use a new key for a new request.',
      [{ field: 'Idempotency-Key', message: 'already used with a different body or route' }],
    );
  }
  return { status: record.status, body: record.body, replayed };
}
