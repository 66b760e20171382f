import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { RequestedUnder } from '../domain/erasure.js';
import type { RectificationWorkflowInput } from '../domain/rectification.js';
import type { Ledger } from '../ledger/ledger.js';
import { canonicalKeyLink, subjectKeyFor } from '../privacy/subject-key.js';
import { findRectification } from './find-rectification.js';
import {
  type FollowedSubject,
  followSubjectLinks,
  requestedUnderOf,
  type SubjectLinkLedger,
  subjectLinkReads,
} from './subject-links.js';

export {
  type FollowedSubject,
  followSubjectLinks,
  type RekeyHop,
  rekeysInto,
  type SubjectLinkLedger,
  subjectLinkReads,
} from './subject-links.js';

/**
 * The addresses a rectification was started with: `email` (the one it searched) and `newEmail` (the one it
 * wrote), read from its workflow's start input (decoded with this client's codec, as the worker does).
 * Undefined when Temporal no longer keeps the workflow (past retention) or its input cannot be decoded:
 * the ledger keeps no address, so the hub cannot say then.
 */
export async function rectificationAddresses(
  client: Client,
  requestId: string,
): Promise<{ email: string; newEmail?: string } | undefined> {
  const found = await findRectification({ client }, requestId);
  if (!found) return undefined;
  try {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId: found.workflowId, ...(found.runId ? { runId: found.runId } : {}) },
      maximumPageSize: 1,
    });
    const started = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
    const input = await decodeFromPayloadsAtIndex<RectificationWorkflowInput>(
      client.options.loadedDataConverter,
      0,
      started?.input?.payloads,
    );
    const email = input?.request?.email;
    if (typeof email !== 'string') return undefined;
    const newEmail = input.request.set?.email;
    return { email, ...(typeof newEmail === 'string' ? { newEmail } : {}) };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    // Gone from Temporal (NOT_FOUND from the history call), or sealed with a key this client cannot open.
    return undefined;
  }
}

/**
 * A person's current key and address, for a request made under an address a rectification moved away from:
 * follows the links (followSubjectLinks), then reads the address of the last hop's rectification, checked
 * against the key it leads to. `email` is undefined when that address cannot be read any more (the
 * rectification's history is past Temporal's retention): the key is still known.
 */
export async function followRekeyedAddress(
  client: Client,
  ledger: SubjectLinkLedger,
  email: string,
  secret: string,
  options: { seenInVendorAt?: string } = {},
): Promise<FollowedSubject & { email?: string }> {
  const followed = await followSubjectLinks(ledger, subjectKeyFor(email, secret), options);
  const last = followed.hops.at(-1);
  if (!last) return { ...followed, email };
  const addresses = await rectificationAddresses(client, last.requestId);
  const current = addresses?.newEmail;
  return current && subjectKeyFor(current, secret) === followed.subjectKey
    ? { ...followed, email: current }
    : followed;
}

/**
 * The address a request by address acts on (erasure, access, a consent change): the one requested, or, when
 * rectifications re-keyed it, the person's address now (followRekeyedAddress), with `requestedUnder` naming
 * the key asked for and the re-keys (keys only). When that address cannot be read any more, the requested one
 * is used and `requestedUnder.note` says why, ending with `advice` (what the operator should do about it).
 * Without a ledger that keeps links, the requested address.
 */
export async function followRequestedAddress(
  context: { client: Client; subjectKeySecret: string },
  ledger: Partial<SubjectLinkLedger> | undefined,
  email: string,
  advice: string,
): Promise<{ email: string; requestedUnder?: RequestedUnder }> {
  const reads = subjectLinkReads(ledger);
  if (!reads) return { email };
  const followed = await followRekeyedAddress(context.client, reads, email, context.subjectKeySecret);
  const requestedUnder = requestedUnderOf(followed);
  if (!requestedUnder) return { email };
  // A re-key not followed at the first hop: the address named is its own person's, searched as named.
  if (followed.hops.length === 0) return { email, requestedUnder };
  if (followed.email) return { email: followed.email, requestedUnder };
  return {
    email,
    requestedUnder: {
      ...requestedUnder,
      note: `the address subject ${followed.subjectKey} has now could not be read (rectification ${followed.hops.at(-1)?.requestId} is no longer kept by Temporal), so the address the request named was searched; ${advice}`,
    },
  };
}

/**
 * The other address of each half-done rectification of this person (records moved, the ledger not re-keyed):
 * for a key the records moved from, the address they moved to; for a key they moved to, the address they
 * were found under, where the rest may still be. The person's keys are `subjectKey` and every key re-keyed
 * into it (`listSubjectLinksTo`, when the ledger offers it): a rectification left half-done under an earlier
 * address, followed by one that re-keyed that address, moved records the person still owns. Each address is
 * checked against the key the ledger names; a rectification that re-keyed the ledger (its receipt says so)
 * is left out, as the link covers it. `email` is undefined when the address cannot be read any more (see
 * rectificationAddresses).
 */
export async function movedRecordAddresses(
  client: Client,
  ledger: Pick<Ledger, 'listRectificationMovePairs' | 'getRectification'> &
    Partial<Pick<Ledger, 'listSubjectLinksTo'>>,
  subjectKey: string,
  secret: string,
): Promise<{ subjectKey: string; email?: string; rectificationRequestId: string; systems: string[] }[]> {
  const personKeys = new Set([subjectKey]);
  for (const link of (await ledger.listSubjectLinksTo?.(subjectKey)) ?? []) {
    if (link.requestId !== canonicalKeyLink) personKeys.add(link.from);
  }
  const others = new Map<
    string,
    { subjectKey: string; email?: string; rectificationRequestId: string; systems: string[] }
  >();
  for (const personKey of personKeys) {
    for (const moves of await ledger.listRectificationMovePairs(personKey)) {
      const receipt = await ledger.getRectification(moves.requestId);
      if (receipt?.rekeyed) continue;
      const movedAway = personKeys.has(moves.subjectKey);
      const other = movedAway ? moves.newSubjectKey : moves.subjectKey;
      if (personKeys.has(other) || others.has(other)) continue;
      const addresses = await rectificationAddresses(client, moves.requestId);
      const candidate = movedAway ? addresses?.newEmail : addresses?.email;
      const email = candidate && subjectKeyFor(candidate, secret) === other ? candidate : undefined;
      others.set(other, {
        subjectKey: other,
        ...(email ? { email } : {}),
        rectificationRequestId: moves.requestId,
        systems: moves.systems,
      });
    }
  }
  return [...others.values()];
}
