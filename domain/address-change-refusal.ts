/**
 * A vendor's address change the hub did not carry out (issue 18): Mailchimp's `upemail` webhook said a member
 * moved to another address, and the hub refused it at intake or its rectification was refused or ended with
 * failures. Mailchimp now holds the new address while Dynamics and the hub hold the old one, so the refusal is
 * kept in the ledger, open, until an operator acknowledges it. Subject keys and codes only: never an address.
 */
export const addressChangeRefusalReasons = [
  /** The new address is the member's current one (a change of case only is the same address). */
  'same_address',
  /** The ledger knows the new address as another person's (consent events, requests or a hold). */
  'address_taken',
  /** The new address is an erased person's (a tombstone): Mailchimp keeps it forgotten. */
  'address_erased',
  /** An erasure of the person runs; it was told of the move (or could not be) and no rectification began. */
  'erasure_running',
  /** Another rectification of the person runs; no second one began beside it. */
  'rectification_running',
  /** The webhook's addresses are not ones the hub takes (the rectification's input was invalid). */
  'invalid_request',
  /** Intake failed (Temporal or the ledger could not be reached); Mailchimp retries the delivery. */
  'intake_error',
  /** The rectification found the new address held by another person's record in a vendor. */
  'vendor_conflict',
  /** The rectification refused: more records than one rectification changes in a system. */
  'too_many_records',
  /** The rectification was refused for another reason its receipt gives. */
  'rectification_refused',
  /** The rectification ended with a system failed or closed: a vendor still holds the old address. */
  'rectification_incomplete',
] as const;
export type AddressChangeRefusalReason = (typeof addressChangeRefusalReasons)[number];

/** One refused address change, as the ledger keeps it. */
export interface AddressChangeRefusal {
  /**
   * Stable per event: the webhook delivery's event id for a refusal at intake, the rectification's request id
   * for one its workflow refused; a retried delivery writes the same row.
   */
  id: string;
  /** The person's key under the address the hub still holds. */
  subjectKey: string;
  /** The key of the address the vendor moved them to. */
  newSubjectKey: string;
  /** Who reported the change: `mailchimp:upemail`. */
  source: string;
  reason: AddressChangeRefusalReason;
  /** The rectification the change started, when one did (its receipt says what happened per system). */
  requestId?: string;
  /** UTC ISO-8601. */
  recordedAt: string;
  /** Set once an operator acknowledged it (the systems made to agree, or accepted as they are). */
  resolvedAt?: string;
  resolvedBy?: string;
  /** The operator's reason, redacted of addresses and names before it is stored. */
  resolution?: string;
}

/**
 * How an operator acknowledges a refused address change: codes only, so nothing about the person is stored.
 * `intake_retry_succeeded` is the hub's own: a delivery refused with an intake error that a retry then took.
 */
export const addressChangeResolutions = [
  /** The operator made the systems agree by hand (in Mailchimp, Dynamics or both). */
  'aligned_manually',
  /** A later rectification carried the change (or the operator started one). */
  'rectified_again',
  /** The member was moved back to the old address in Mailchimp. */
  'reverted_in_mailchimp',
  /** The disagreement is accepted as it is (the addresses are two people, say). */
  'accepted_as_is',
  'other',
] as const;
export type AddressChangeResolution = (typeof addressChangeResolutions)[number] | 'intake_retry_succeeded';
