/**
 * Why a person is erased: a fixed set of codes (GDPR Art. 17(1) grounds, plus the hub's own re-erasure), so
 * that no free text lands in receipts. Anything more goes in the note, which is scrubbed before it is kept.
 */
export const erasureReasonCodes = [
  /** The person asked (the default). */
  'subject_request',
  /** Art. 17(1)(a): the data is no longer needed for its purpose. */
  'no_longer_necessary',
  /** Art. 17(1)(b): the person withdrew the consent the processing rested on. */
  'consent_withdrawn',
  /** Art. 17(1)(c): the person objected to the processing. */
  'objection',
  /** Art. 17(1)(d): the data was processed unlawfully. */
  'unlawful_processing',
  /** Art. 17(1)(e): a legal obligation requires erasure. */
  'legal_obligation',
  /** Art. 17(1)(f): data collected from a child for an online service. */
  'child_data',
  /** Reconciliation found an erased person again in a tool. */
  'reappeared_after_erasure',
  /** None of the above; say why in the note. */
  'other',
] as const;
export type ErasureReasonCode = (typeof erasureReasonCodes)[number];
