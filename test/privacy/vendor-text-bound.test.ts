import { GraphError } from '@microsoft/microsoft-graph-client';
import { describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/vendor-failure.js';
import { classifyDynamicsError } from '../../connectors/dynamics/errors.js';
import { classifyGoogleError } from '../../connectors/google/errors.js';
import { toMailchimpError } from '../../connectors/mailchimp/errors.js';
import { boundedText, maxVendorTextChars } from '../../domain/bounded-text.js';
import { maxRedactedTextChars, redactSubject } from '../../privacy/redaction.js';

const subject = { email: 'fiona.fitzgerald@example.com', names: ['Siobhan', 'Byrne'] };
/** A megabyte of a vendor's echo of what it was sent, naming the person all along. */
const megabyteEcho = 'member Siobhan Byrne <fiona.fitzgerald@example.com> was refused; '.repeat(16_500);

describe('boundedText: a text cut only between words', () => {
  it('answers a text within the bound unchanged', () => {
    expect(boundedText('Fiona Fitzgerald', 16)).toBe('Fiona Fitzgerald');
  });

  it('cuts before a word the bound falls inside, never keeping its fragment, and says how much went', () => {
    expect(boundedText('Dear Siobhan Byrne, refused', 15)).toBe('Dear Siobhan [… 15 characters not kept]');
    expect(boundedText('Dear Siobhan Byrne, refused', 12)).toBe('Dear Siobhan [… 15 characters not kept]');
  });

  it('keeps nothing of a first word longer than the bound (an address or encoded name without spaces)', () => {
    expect(boundedText('fiona.fitzgerald%40example.com rest', 10)).toBe('[… 35 characters not kept]');
  });
});

/**
 * Issue 16: a vendor's error text of any size went whole into the failure (Mailchimp's detail was not cut at
 * all), and redacting a megabyte of it for the subject took seconds per text inside the activity; where a
 * connector did cut (Dataverse, Google at 300 characters), the cut fell inside a word, so a name cut to
 * `Siob` escaped the subject's redaction that runs after.
 */
describe("a vendor's error text: bounded between words before the subject's redaction", () => {
  it("keeps at most about a thousand characters of a megabyte Mailchimp detail, with the person's data redacted", () => {
    const error = toMailchimpError(
      { status: 400, response: { body: { title: 'Invalid Resource', detail: megabyteEcho } } },
      'applyConsent',
    );
    expect(error.reason.length).toBeLessThan(maxVendorTextChars + 200);
    const failure = toActivityFailure(error, subject) as Error & { details?: unknown[] };
    const kept = `${failure.message} ${JSON.stringify(failure.details)}`;
    expect(kept).toMatch(/Mailchimp answered 400 Invalid Resource: member/);
    expect(kept).not.toMatch(/Siob|Byrn|fiona|fitzgerald/i);
  });

  it("redacts any text of a megabyte (an SDK's message, a stack) within its bound, not whole", () => {
    const redacted = redactSubject(megabyteEcho, subject);
    expect(redacted.length).toBeLessThan(maxRedactedTextChars);
    expect(redacted).not.toMatch(/Siob|Byrn|fiona|fitzgerald/i);
    expect(redacted).toMatch(/characters not kept\]$/);
  });

  it("never keeps a fragment of a name where Dataverse's message is cut", () => {
    // 290 characters, then the name across the 300th: the old cut kept `Siobhan By`.
    const message = `${'x '.repeat(145)}Siobhan Byrne is already a member of the marketing list`;
    const error = classifyDynamicsError('applyConsent', new GraphError(400, message));
    const failure = toActivityFailure(error, subject) as Error;
    expect(failure.message).not.toMatch(/Siob|Byrn|By\b/);
    expect(error.reason).toMatch(/characters not kept\]/);
  });

  it("never keeps a fragment of a name where Google's message is cut", () => {
    const message = `${'x '.repeat(145)}Siobhan Byrne is not a user of this property`;
    const error = classifyGoogleError(
      { response: { status: 400, data: { error: { code: 400, message, status: 'INVALID_ARGUMENT' } } } },
      'erase',
    );
    const failure = toActivityFailure(error, subject) as Error;
    expect(failure.message).not.toMatch(/Siob|Byrn|By\b/);
  });
});
