import { withheldTextMarker } from './redaction-names.js';

/**
 * Why an operator closes a system instead of retrying it (the console's choice; its text is stored as
 * `<code>: <note>`). A code holds nothing about the person, so it outlives the subject's erasure.
 */
export const closeReasonCodes = [
  'handled_manually',
  'not_held_by_vendor',
  'vendor_will_not_process',
  'duplicate_request',
  'other',
] as const;

/**
 * The withheld form of an operator's text (kept instead of it when the CRM's names for the person cannot be
 * read): a close's leading reason code (`handled_manually: <note>`, the console's form) says nothing about
 * the person and stays, so the log still tells why a system was closed; everything else is
 * `withheldTextMarker`. A text already withheld stays as it is.
 */
export function withheldOperatorText(text: string): string {
  const trimmed = text.trim();
  const code = closeReasonCodes.find((c) => trimmed === c || trimmed.startsWith(`${c}:`));
  if (code === undefined) return withheldTextMarker;
  return trimmed === code ? code : `${code}: ${withheldTextMarker}`;
}
