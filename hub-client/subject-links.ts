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
 */
export interface FollowedSubject {
  requestedKey: string;
  subjectKey: string;
  hops: RekeyHop[];
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
 */
export async function followSubjectLinks(
  ledger: Pick<Ledger, 'getSubjectLink' | 'getRectification'>,
  subjectKey: string,
): Promise<FollowedSubject> {
  const hops: RekeyHop[] = [];
  const seen = new Set([subjectKey]);
  let current = subjectKey;
  for (let hop = 0; hop < maxHops; hop += 1) {
    const link = await ledger.getSubjectLink(current);
    if (!link || link.requestId === canonicalKeyLink || link.to === current) break;
    const receipt = await ledger.getRectification(link.requestId);
    const next = receipt?.rekeyed?.from === current ? receipt.rekeyed.to : link.to;
    if (seen.has(next)) break;
    hops.push({ from: current, to: next, requestId: link.requestId, linkedAt: link.linkedAt });
    seen.add(next);
    current = next;
  }
  return { requestedKey: subjectKey, subjectKey: current, hops };
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
