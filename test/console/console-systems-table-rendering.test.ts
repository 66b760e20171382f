import { describe, expect, it } from 'vitest';
import { consoleViews } from '../../console/console-views.js';

const eta = consoleViews();
const text = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');

describe('a systems table names what each system did with its records, once per kind and result', () => {
  it('counts identical records once and names the audiences they were in, so two audiences are told apart', () => {
    const html = eta.render('./systems-table', {
      systems: {
        dynamics: {
          status: 'erased',
          attempts: 1,
          recordCount: 2,
          records: [
            { kind: 'contact', id: 'c1', result: 'deleted' },
            { kind: 'lead', id: 'l1', result: 'deleted' },
          ],
        },
        mailchimp: {
          status: 'erased',
          attempts: 1,
          recordCount: 3,
          records: [
            { kind: 'member', id: 'hmac:1', container: 'a1b2c3d4e5', result: 'deleted' },
            { kind: 'member', id: 'hmac:1', container: 'f6e5d4c3b2', result: 'deleted' },
            { kind: 'member', id: 'hmac:1', container: '0a0b0c0d0e', result: 'not_found' },
          ],
        },
      },
    });
    const words = text(html);
    expect(words).toContain('dynamics erased 1 — 2 contact deleted; lead deleted');
    expect(words).toContain('3 2 × member deleted in a1b2c3d4e5, f6e5d4c3b2; member not found in 0a0b0c0d0e');
    expect(words).not.toContain('member deleted, member deleted');
  });
});
