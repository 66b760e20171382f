/**
 * How much of a vendor's own words a failure keeps (characters). A vendor's error body can be any size (a
 * Mailchimp `detail` echoing a megabyte of input), and every kept character costs twice: the redaction that
 * reads it for the person's data (about 5 s for 1 MB of prose) runs inside the activity, and what it keeps
 * goes into each attempt's failure in the history, the status views and the receipt.
 */
export const maxVendorTextChars = 1000;

/**
 * `text` cut to at most `maxChars` characters at a whitespace boundary, with `[… N characters not kept]`
 * after it: never inside a word, so no name or address is cut to a fragment that the redaction that runs
 * after the cut (of the subject's names and every address) no longer recognises (`Fitzge` of `Fitzgerald`,
 * `mary.o` of `mary.o'brien@…`). A text whose first `maxChars` characters hold no whitespace keeps none of
 * them. A text within `maxChars` is answered unchanged. Shape: string.
 */
export function boundedText(text: string, maxChars: number = maxVendorTextChars): string {
  if (text.length <= maxChars) return text;
  // The character just past the limit counts: a word that ends exactly at the limit is whole.
  let cut = maxChars;
  while (cut > 0 && !/\s/.test(text[cut] as string)) cut--;
  const kept = text.slice(0, cut).trimEnd();
  return `${kept}${kept ? ' ' : ''}[… ${text.length - kept.length} characters not kept]`;
}
