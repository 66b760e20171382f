import type { RequestedUnder } from '../domain/erasure.js';
import type { Ledger } from '../ledger/ledger.js';
import { canonicalKeyLink } from '../privacy/subject-key.js';

/** One re-key of a chain: the rectification `requestId` moved the person from key `from` to key `to`. */
export interface RekeyHop {
  from: string;
  to: string;
  requestId: string;
  linkedAt: string;
}

/**
 * Where a subject key leads once every re-key is followed: `subjectKey` is the key the person has now
 * (the one asked for when nothing re-keyed it), `hops` the re-keys from the key asked for, oldest first.
 * `notFollowed` is the re-key the chain stopped at because its old key has a life of its own since (someone
 * recorded under it after the re-key: the address was given up and taken again); `subjectKey` is then that
 * old key, and the request is its own person's.
 */
export interface FollowedSubject {
  requestedKey: string;
  subjectKey: string;
  hops: RekeyHop[];
  notFollowed?: RekeyHop;
}

/** The ledger reads followSubjectLinks needs. */
export type SubjectLinkLedger = Pick<
  Ledger,
  'getSubjectLink' | 'getRectification' | 'subjectKeyRecordedSince'
>;

/**
 * The re-key reads of a ledger that may lack them (a request made without a ledger, a narrow test double):
 * bound to it when it has all three, undefined otherwise (nothing is followed then).
 */
export function subjectLinkReads(
  ledger: Partial<SubjectLinkLedger> | undefined,
): SubjectLinkLedger | undefined {
  if (!ledger?.getSubjectLink || !ledger.getRectification || !ledger.subjectKeyRecordedSince)
    return undefined;
  return {
    getSubjectLink: ledger.getSubjectLink.bind(ledger),
    getRectification: ledger.getRectification.bind(ledger),
    subjectKeyRecordedSince: ledger.subjectKeyRecordedSince.bind(ledger),
  };
}

/** No person is re-keyed more often than this; a longer chain is a loop in the ledger, and stops there. */
const maxHops = 64;

/**
 * Follows the ledger's `subject_links` from `subjectKey` to the key the person has now (old → new → newer),
 * by keys alone. A re-key flattens the links that pointed at its old key (old → newer), so each hop's next
 * key is read from the rectification's receipt (`rekeyed.to`) when it names the key; the link's own `to`
 * otherwise. Links a legacy spelling's re-keying wrote (`canonicalKeyLink`) are no rectification and are
 * not followed here (adoptLegacySubjectKeys moves those rows). A key that leads back to one already seen
 * (a person who took their old address back) ends the chain there.
 *
 * An address given up can become someone else's: a link is followed only while its old key has no life of
 * its own since the re-key (ledger.subjectKeyRecordedSince: the re-key emptied the key, so anything recorded
 * under it later, a consent event, a request, a hold, a legacy spelling's rows, is a new owner's). From then
 * on a request by that address acts on its key as its own person's, and `notFollowed` names the re-key left
 * unfollowed. Every request by address (access, consent single and batch, erasure, hold, release, history,
 * status) comes through here, so they all agree.
 *
 * `seenInVendorAt` (ISO instant): the request is a vendor's observation of the address asked for (a Mailchimp
 * webhook's fired_at, a reconciliation's vendor change time). A vendor that shows the address after its
 * re-key shows someone else (the person's own records moved away with the rectification), so that re-key is
 * not followed either; the change is then recorded under the address's key, which gives it its life.
 */
export async function followSubjectLinks(
  ledger: SubjectLinkLedger,
  subjectKey: string,
  options: { seenInVendorAt?: string } = {},
): Promise<FollowedSubject> {
  const hops: RekeyHop[] = [];
  let notFollowed: RekeyHop | undefined;
  const seen = new Set([subjectKey]);
  let current = subjectKey;
  for (let hop = 0; hop < maxHops; hop += 1) {
    const link = await ledger.getSubjectLink(current);
    if (!link || link.requestId === canonicalKeyLink || link.to === current) break;
    const receipt = await ledger.getRectification(link.requestId);
    const next = receipt?.rekeyed?.from === current ? receipt.rekeyed.to : link.to;
    if (seen.has(next)) break;
    const hopTaken = { from: current, to: next, requestId: link.requestId, linkedAt: link.linkedAt };
    const seenSince =
      current === subjectKey &&
      options.seenInVendorAt !== undefined &&
      Date.parse(options.seenInVendorAt) > Date.parse(link.linkedAt);
    if (seenSince || (await ledger.subjectKeyRecordedSince(current, link.linkedAt))) {
      notFollowed = hopTaken;
      break;
    }
    hops.push(hopTaken);
    seen.add(next);
    current = next;
  }
  return { requestedKey: subjectKey, subjectKey: current, hops, ...(notFollowed ? { notFollowed } : {}) };
}

/**
 * What an answer says of the re-keys a request by address met (keys only): the key asked for, the re-keys
 * followed and the one not followed (FollowedSubject.notFollowed). Undefined when it met none.
 */
export function requestedUnderOf(followed: FollowedSubject): RequestedUnder | undefined {
  if (followed.hops.length === 0 && !followed.notFollowed) return undefined;
  const rekeyOf = (hop: RekeyHop) => ({
    from: hop.from,
    to: hop.to,
    rectificationRequestId: hop.requestId,
    at: hop.linkedAt,
  });
  return {
    subjectKey: followed.requestedKey,
    rekeys: followed.hops.map(rekeyOf),
    ...(followed.notFollowed ? { notFollowed: rekeyOf(followed.notFollowed) } : {}),
  };
}

/** One re-key as a person's history tells it: from which key to which, by which rectification, when. */
export interface RekeyRecord {
  from: string;
  to: string;
  rectificationRequestId: string;
  at: string;
}

/**
 * The re-keys that led to `subjectKey`, oldest first: every key linked to it (links of a chain all point at
 * the newest key), each told as its rectification's receipt says (the key it moved from, to which it moved,
 * when), or as the link says when no receipt is kept. Legacy spellings' links are no rectification: left out.
 */
export async function rekeysInto(
  ledger: Pick<Ledger, 'listSubjectLinksTo' | 'getRectification'>,
  subjectKey: string,
): Promise<RekeyRecord[]> {
  const records: RekeyRecord[] = [];
  for (const link of await ledger.listSubjectLinksTo(subjectKey)) {
    if (link.requestId === canonicalKeyLink) continue;
    const rekeyed = (await ledger.getRectification(link.requestId))?.rekeyed;
    records.push(
      rekeyed?.from === link.from
        ? { from: rekeyed.from, to: rekeyed.to, rectificationRequestId: link.requestId, at: rekeyed.at }
        : { from: link.from, to: subjectKey, rectificationRequestId: link.requestId, at: link.linkedAt },
    );
  }
  return records.sort((a, b) => a.at.localeCompare(b.at));
}
