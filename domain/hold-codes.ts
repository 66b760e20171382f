// The hold and release codes alone (pure, nothing loaded), so workflows can check a signal's code
// (workflows/signal-input.ts) without the intake schemas of hold.ts.

/**
 * Why a person's data must be kept although they asked for its erasure: GDPR Art. 17(3) exceptions and
 * Art. 18(1) restriction grounds, as codes, so that no free text (and no personal data) reaches the ledger.
 */
export const holdReasonCodes = [
  /** Art. 17(3)(e) / 18(1)(c): needed to establish, exercise or defend legal claims (litigation hold). */
  'legal_claims',
  /** Art. 17(3)(b): a legal obligation to keep the data (tax, accounting, anti-money-laundering). */
  'legal_obligation',
  /** Art. 17(3)(b)/(c)/(d): a task in the public interest, public health, or archiving in the public interest. */
  'public_interest',
  /** Art. 18(1)(a): the person contests the data's accuracy, for the time it takes to verify it. */
  'accuracy_contested',
  /** Art. 18(1)(b): the processing is unlawful and the person asked for restriction instead of erasure. */
  'unlawful_processing',
  /** Art. 18(1)(d): the person objected (Art. 21(1)) and the controller's grounds are being weighed. */
  'objection_pending',
  /** A regulator or court ordered the data kept. */
  'authority_order',
] as const;
export type HoldReasonCode = (typeof holdReasonCodes)[number];

/** Why a hold ended. */
export const releaseReasonCodes = [
  /** The claim, obligation or investigation is over. */
  'resolved',
  /** The retention period the obligation set has run out. */
  'retention_expired',
  /** Art. 18(1)(a)/(d): the verification or the weighing is done. */
  'verification_done',
  /** The hold was placed by mistake. */
  'placed_in_error',
] as const;
export type ReleaseReasonCode = (typeof releaseReasonCodes)[number];
