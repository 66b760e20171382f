import { describe, expect, it } from 'vitest';
import { scrubEmails } from '../../logging/logger.js';
import { capturingLogger } from '../support/capturing-logger.js';

describe('log redaction', () => {
  it('redacts emails, names and secrets at the top level and nested up to two levels deep', () => {
    const { logger, lines } = capturingLogger();
    const text = () => lines.join('\n');
    logger.info(
      {
        email: 'top@example.com',
        subject: { email: 'nested@example.com', firstName: 'Ada', name: 'Ada Lovelace' },
        request: { headers: { authorization: 'Bearer abc.def' } },
        config: { clientSecret: 's3cr3t-value' },
        subjectKey: 'ab'.repeat(32),
      },
      'erasing',
    );
    const output = text();
    for (const secret of ['top@example.com', 'nested@example.com', 'Ada', 'Bearer abc.def', 's3cr3t-value']) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain('ab'.repeat(32));
    expect(output).toContain('"name":"consent-hub"');
  });

  it('scrubs addresses out of free text such as vendor error messages', () => {
    expect(scrubEmails('member Ada.L+x@sub.example.co.uk is in compliance state')).toBe(
      'member [email] is in compliance state',
    );
    expect(scrubEmails('HTTP 404 Resource Not Found')).toBe('HTTP 404 Resource Not Found');
  });
});
