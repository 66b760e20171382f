import { describe, expect, it } from 'vitest';
import { consoleViews } from '../../console/console-views.js';
import type { RectificationReceipt } from '../../domain/rectification.js';

const receipt: RectificationReceipt = {
  requestId: '20000000-0000-4000-8000-000000000001',
  subjectKey: 'c'.repeat(64),
  requestedBy: 'console:abc',
  requestedAt: '2026-01-01T10:00:00.000Z',
  completedAt: '2026-01-01T10:05:00.000Z',
  fields: ['email', 'lastname'],
  outcome: 'completed',
  systems: {
    dynamics: {
      status: 'rectified',
      attempts: 1,
      records: [
        {
          kind: 'contact',
          id: 'c-1',
          result: 'rectified',
          changed: [{ field: 'lastname', beforeHash: 'hmac:ab' }],
        },
      ],
    },
    mailchimp: { status: 'not_found', attempts: 1, records: [] },
    google: { status: 'not_applicable', attempts: 0, records: [] },
  } as RectificationReceipt['systems'],
  rekeyed: {
    from: 'c'.repeat(64),
    to: 'd'.repeat(64),
    at: '2026-01-01T10:05:00.000Z',
    moved: { consent_events: 2 },
  },
};

describe('a rectification receipt has its console page, printable page and JSON link, like an erasure receipt', () => {
  it('renders the receipt page and the printable page with the fields changed, the re-keying and each system', () => {
    const eta = consoleViews();
    const data = {
      title: 'Receipt',
      csrf: 't',
      operator: 'console:abc',
      kind: 'rectification',
      heading: 'Rectification receipt',
      receipt,
    };
    const page = eta.render('./receipt', data);
    expect(page).toContain('<h1>Rectification receipt</h1>');
    expect(page).toContain(`href="/console/receipts/${receipt.requestId}/json" download`);
    expect(page).toContain(`href="/console/receipts/${receipt.requestId}?print=1"`);
    expect(page).toContain('<dt>Fields changed</dt><dd>email, lastname</dd>');
    expect(page).toContain('2 consent events');
    expect(page).toMatch(/<th scope="row">dynamics<\/th>[\s\S]*?contact rectified/);
    const print = eta.render('./receipt-print', data);
    expect(print).toContain('<body class="print">');
    expect(print).toContain(`<title>Rectification receipt ${receipt.requestId}</title>`);
    expect(print).toContain('<dt>Fields changed</dt>');
  });
});
