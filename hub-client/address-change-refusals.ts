import {
  type AddressChangeRefusal,
  type AddressChangeResolution,
  addressChangeResolutions,
} from '../domain/address-change-refusal.js';
import type { Ledger } from '../ledger/ledger.js';
import { OperatorActionRefused, RequestNotFound } from './request-errors.js';

export { addressChangeResolutions };

/** The resolutions an operator may give (the hub's own `intake_retry_succeeded` is not one). */
export type OperatorAddressChangeResolution = (typeof addressChangeResolutions)[number];

/**
 * The vendors' address changes the hub refused and no operator has acknowledged yet, oldest first: Mailchimp
 * holds the new address while Dynamics and the hub hold the old one (issue 18). Keys and codes only.
 */
export function listOpenAddressChangeRefusals(
  ledger: Pick<Ledger, 'listAddressChangeRefusals'>,
): Promise<AddressChangeRefusal[]> {
  return ledger.listAddressChangeRefusals({ open: true });
}

/**
 * Acknowledges a refused address change with a resolution code, recorded with the operator and time; it
 * then leaves the open list and stays in the person's history. RequestNotFound when no refusal has the id;
 * OperatorActionRefused (naming who and when) when it was acknowledged already.
 */
export async function acknowledgeAddressChangeRefusal(
  ledger: Pick<Ledger, 'getAddressChangeRefusal' | 'resolveAddressChangeRefusal'>,
  id: string,
  acknowledgement: { resolution: OperatorAddressChangeResolution; operator: string; at?: string },
): Promise<AddressChangeRefusal> {
  const existing = await ledger.getAddressChangeRefusal(id);
  if (!existing) throw new RequestNotFound(id);
  if (existing.resolvedAt)
    throw new OperatorActionRefused(
      `The refused address change ${id} was acknowledged already, by ${existing.resolvedBy} at ${existing.resolvedAt} (${existing.resolution}).`,
    );
  const resolved = await ledger.resolveAddressChangeRefusal({
    id,
    resolvedAt: acknowledgement.at ?? new Date().toISOString(),
    resolvedBy: acknowledgement.operator,
    resolution: acknowledgement.resolution,
  });
  if (!resolved) throw new RequestNotFound(id);
  // Another operator got there between the read and the write: theirs stands.
  if (resolved.resolvedBy !== acknowledgement.operator || resolved.resolution !== acknowledgement.resolution)
    throw new OperatorActionRefused(
      `The refused address change ${id} was acknowledged already, by ${resolved.resolvedBy} at ${resolved.resolvedAt} (${resolved.resolution}).`,
    );
  return resolved;
}

/** One line for an operator: when, the keys, why, and the rectification's request id when one ran. */
export function addressChangeRefusalLine(refusal: AddressChangeRefusal): string {
  const ran = refusal.requestId ? `  rectification ${refusal.requestId}` : '';
  const acknowledged = refusal.resolvedAt
    ? `  acknowledged ${refusal.resolvedAt} by ${refusal.resolvedBy}: ${refusal.resolution}`
    : '  OPEN';
  return `${refusal.recordedAt}  ${refusal.source} ${refusal.reason}  ${refusal.subjectKey} -> ${refusal.newSubjectKey}${ran}${acknowledged}  (id ${refusal.id})`;
}

export type { AddressChangeRefusal, AddressChangeResolution };
