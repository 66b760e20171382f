import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectStatusSchema } from '../../api/api-response-schemas.js';
import { formChoices } from '../../console/console-forms.js';
import { consoleViews } from '../../console/console-views.js';
import { utcMinute } from '../../console/due-labels.js';
import { consentStatusOfSubject } from '../../hub-client/consent.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { silentLogger } from '../support/temporal.js';

/** A Temporal client whose person has no running consent workflow: the status is read from the ledger. */
const noWorkflow = {
  workflow: {
    getHandle: () => ({
      describe: async () => {
        throw new WorkflowNotFoundError('not found', 'consent-x', undefined);
      },
    }),
  },
} as unknown as Client;

describe('a consent status carries the evidence of each decision in force', () => {
  let ledger: Ledger;
  const subjectKey = 'e'.repeat(64);
  const grant = randomUUID();
  const withdrawal = randomUUID();

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-evidence-')) }, silentLogger);
    await ledger.appendConsentEvent({
      id: grant,
      subjectKey,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-10T09:00:00.000Z',
      recordedAt: '2026-01-10T09:00:05.000Z',
      source: 'console:3f2a1b0c9d8e',
      evidence: { policyVersion: 'privacy-2025-11', channel: 'phone', note: 'called [name] back' },
    });
    await ledger.appendConsentEvent({
      id: withdrawal,
      subjectKey,
      purpose: 'phone',
      decision: 'withdrawn',
      occurredAt: '2026-01-11T10:00:00.000Z',
      recordedAt: '2026-01-11T10:00:01.000Z',
      source: 'mailchimp',
      evidence: {},
    });
  });
  afterAll(async () => ledger?.close());

  it('answers the change’s evidence, recording time and who recorded it, per purpose, as the API schema allows', async () => {
    const status = await consentStatusOfSubject(
      { client: noWorkflow, taskQueue: 'q', subjectKeySecret: 's' } as never,
      ledger,
      subjectKey,
    );
    expect(status.purposes.marketing_email).toMatchObject({
      eventId: grant,
      source: 'console:3f2a1b0c9d8e',
      recordedAt: '2026-01-10T09:00:05.000Z',
      evidence: { policyVersion: 'privacy-2025-11', channel: 'phone', note: 'called [name] back' },
    });
    expect(status.purposes.phone).toMatchObject({ eventId: withdrawal, evidence: {}, source: 'mailchimp' });
    // The API answers the same object: its response schema (strict) accepts the new fields.
    expect(subjectStatusSchema.parse(status).purposes.marketing_email?.evidence?.policyVersion).toBe(
      'privacy-2025-11',
    );

    // The person page shows it: evidence in words, when and by whom it was recorded.
    const html = consoleViews().render('./person', {
      title: 'Person',
      csrf: 't',
      operator: 'console:abc',
      email: 'ada@example.com',
      subjectKey,
      consent: status,
      requests: [],
      receipts: [],
      holdReasons: [],
      releaseReasons: [],
      choices: formChoices,
      utcMinute,
    });
    const row = /<tr>\s*<th scope="row">marketing email<\/th>[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    expect(row).toContain('policy version: privacy-2025-11');
    expect(row).toContain('channel: phone');
    expect(row).toContain('note: called [name] back');
    expect(row).toContain('2026-01-10 09:00 UTC');
    expect(row).toContain('by <code>console:3f2a1b0c9d8e</code>');
    const phone = /<tr>\s*<th scope="row">phone<\/th>[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    expect(phone).toContain('none given (a withdrawal needs none)');

    // A consent change's request page shows the same evidence.
    const request = consoleViews().render('./request', {
      title: 'Request',
      csrf: 't',
      operator: 'console:abc',
      id: grant,
      status: { kind: 'consent', requestId: grant, subject: status },
      log: [],
      running: false,
      refreshEvery: 3,
      asOf: new Date().toISOString(),
      closeReasons: [],
      utcMinute,
    });
    expect(request).toContain('policy version: privacy-2025-11');
    expect(request).toContain('by <code>console:3f2a1b0c9d8e</code>');
  });
});
