import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import { withheldBatchWords } from '../../domain/redaction-names.js';
import { createLogger } from '../../logging/logger.js';
import { runWithVendorWordsWithheld } from '../../privacy/redaction-context.js';

const address = 'fiona.fakename@example.net';
const name = 'Fakename';

/** The JSON lines the real logger writes for `log`, run inside a bulk call (vendor words withheld). */
async function linesInsideBulkCall(log: (logger: ReturnType<typeof createLogger>) => void) {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk) => chunks.push(String(chunk)));
  const logger = createLogger({ format: 'json', stream });
  await runWithVendorWordsWithheld(async () => log(logger));
  await new Promise((resolve) => setImmediate(resolve));
  return chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("a bulk call's log lines keep no vendor words", () => {
  it("withholds a logged vendor error's own reason (the serializer writes it beside the message), keeping system, operation, status, code and retry decision", async () => {
    const error = new NonRetryableVendorError({
      system: 'mailchimp',
      operation: 'applyConsent',
      status: 400,
      vendorCode: 'Invalid Resource',
      reason: `Fiona ${name} <${address}> looks fake or invalid`,
    });
    const [line] = await linesInsideBulkCall((logger) => logger.warn({ err: error }, 'bulk call failed'));
    const text = JSON.stringify(line);
    expect(text).not.toContain(address);
    expect(text).not.toContain(name);
    expect(line?.err).toMatchObject({
      type: 'NonRetryableVendorError',
      message: withheldBatchWords,
      reason: withheldBatchWords,
      system: 'mailchimp',
      operation: 'applyConsent',
      status: 400,
      vendorCode: 'Invalid Resource',
      retryable: false,
    });
  });

  it("withholds a caught error's message logged as a string under err/error, and an HTTP client's raw text, keeping counts", async () => {
    const retryable = new RetryableVendorError({
      system: 'mailchimp',
      operation: 'applyConsent',
      status: 503,
      reason: `member ${address} (${name}) busy`,
    });
    const lines = await linesInsideBulkCall((logger) => {
      logger.warn({ operation: 'applyConsent', listId: 'l1', err: retryable.message }, 'listing failed');
      logger.warn(
        { error: `${name} ${address}`, response: { status: 400, text: `{"detail":"${address}"}` } },
        'x',
      );
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(address);
    expect(text).not.toContain(name);
    expect(lines[0]).toMatchObject({ operation: 'applyConsent', listId: 'l1', err: withheldBatchWords });
    expect(lines[1]).toMatchObject({
      error: withheldBatchWords,
      response: { status: 400, text: withheldBatchWords },
    });
  });

  it("logs an err given as a string (a caught error's message) with its addresses scrubbed, outside a bulk call too, instead of throwing from the serializer", () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk) => chunks.push(String(chunk)));
    const logger = createLogger({ format: 'json', stream });
    expect(() =>
      logger.warn({ err: `listing failed for ${address}` }, 'audience listing failed'),
    ).not.toThrow();
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        const line = JSON.parse(chunks.join('')) as { err: string };
        expect(line.err).toContain('listing failed for');
        expect(line.err).not.toContain(address);
        resolve();
      }),
    );
  });
});
