import { createHmac } from 'node:crypto';
import { msToNumber } from '@temporalio/common';
import { z } from 'zod';
import type { Ledger } from '../ledger/ledger.js';
import { derivedKey } from '../privacy/keyed-id.js';
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

/**
 * The route is part of the hash: one key used on two routes is a conflict, not a replay. An HMAC under a hub
 * key, not a plain digest: the body holds an address, and a plain SHA-256 of it would confirm a guessed one.
 */
export function requestHash(secret: string, route: string, body: unknown): string {
  return createHmac('sha256', derivedKey(secret, 'idempotency-request'))
    .update(`${route}\n${canonicalJson(body)}`)
    .digest('hex');
}

/** How long an idempotency record is kept when CONSENT_HUB_IDEMPOTENCY_TTL is not set. */
export const defaultIdempotencyTtl = '7 days';

/** A Temporal-style duration (`7 days`, `36h`, or milliseconds) in milliseconds. */
export function ttlMs(ttl: string | number | undefined): number {
  const value = ttl ?? defaultIdempotencyTtl;
  return msToNumber(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : (value as '1s'));
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
  options: {
    scope: string;
    key: string | undefined;
    route: string;
    body: unknown;
    /** The HMAC secret (the hub's subject-key secret; a key is derived from it). */
    secret: string;
    /** The subject the request is about: their erasure deletes the record. */
    subjectKey?: string;
    /** How long a record replays; older ones are deleted and the key is new again. */
    ttl?: string | number;
  },
  work: () => Promise<{ status: number; body: unknown }>,
): Promise<Answer> {
  if (options.key === undefined) return { ...(await work()), replayed: false };
  const storeKey = `${options.scope}:${options.key}`;
  const hash = requestHash(options.secret, options.route, options.body);
  const expiredBefore = new Date(Date.now() - ttlMs(options.ttl)).toISOString();
  // Expired records go before they could be replayed; this also keeps the table from growing for ever.
  await ledger.deleteIdempotentResponses({ createdBefore: expiredBefore });
  const existing = await ledger.getIdempotentResponse(storeKey);
  if (existing) return replay(existing, hash, true);
  const answer = await work();
  const saved = await ledger.saveIdempotentResponse({
    key: storeKey,
    requestHash: hash,
    ...(options.subjectKey ? { subjectKey: options.subjectKey } : {}),
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
