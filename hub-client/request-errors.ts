/**
 * No request with this id is known: neither Temporal nor the ledger has it. The API answers 404 naming the
 * id; the CLI prints the message and exits 2.
 */
export class RequestNotFound extends Error {
  override readonly name = 'RequestNotFound';
  constructor(readonly requestId: string) {
    super(
      `No request with id ${requestId} is known: no erasure, consent change, access request or rectification has it.`,
    );
  }
}

/**
 * A request id that cannot be one (not a UUID). The CLI exits 2; the API's schemas refuse it before any
 * lookup, so it reaches only callers that pass ids through unchecked.
 */
export class InvalidRequestId extends Error {
  override readonly name = 'InvalidRequestId';
}

/**
 * An operator action the request cannot take now: the system does not need attention, or the request has
 * finished. The message says what the state is; the CLI exits 2 and the API answers 409.
 */
export class OperatorActionRefused extends Error {
  override readonly name = 'OperatorActionRefused';
}

/**
 * A grant for a person the hub has erased (a tombstone is in the ledger): refused before anything is
 * recorded, so the caller hears it instead of an acceptance the person's workflow would then drop. The
 * message names no address; withdrawals are never refused. The CLI exits 2 and the API answers 409.
 */
export class GrantRefusedAfterErasure extends Error {
  override readonly name = 'GrantRefusedAfterErasure';
  constructor(
    readonly subjectKey: string,
    readonly erasedAt: string,
  ) {
    super(
      `The grant is refused: subject ${subjectKey} was erased at ${erasedAt}, and an erased person's grants are refused (withdrawals still apply). Nothing was recorded.`,
    );
  }
}

/**
 * A rectification refused before anything is written: the new address is the current one (nothing to do),
 * or it is an erased person's (a tombstone) or another person's in the ledger, which no vendor would take
 * without leaving the person half-moved. The message names no address. The CLI exits 2; the API answers 409.
 */
export class RectificationRefused extends Error {
  override readonly name = 'RectificationRefused';
  constructor(
    message: string,
    /** Why, as a code that names nothing about the person (kept in the ledger for a vendor's change). */
    readonly code:
      | 'same_address'
      | 'address_taken'
      | 'address_erased'
      | 'erasure_running'
      | 'rectification_running',
  ) {
    super(message);
  }
}

/** Temporal cannot be reached (connect failed, or a call answered UNAVAILABLE); the CLI exits 4. */
export class TemporalUnreachable extends Error {
  override readonly name = 'TemporalUnreachable';
}

/**
 * A release for a person who is not on hold (never held, or released already): nothing was released. The
 * message names the subject key, never the address. The CLI exits 2 and the API answers 409.
 */
export class NotOnHold extends Error {
  override readonly name = 'NotOnHold';
  constructor(readonly subjectKey: string) {
    super(`Subject ${subjectKey} is not on hold: nothing was released.`);
  }
}
