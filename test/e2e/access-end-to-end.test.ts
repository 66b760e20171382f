import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessExportDocument } from '../../activities/access-export.js';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { defaultAccessCategories } from '../../config/access-categories.js';
import { buildConnectors } from '../../connectors/registry.js';
import type { AccessStatusView } from '../../domain/access.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { demoPeople } from '../../sandboxes/demo-people.js';
import { dynamicsSandboxKit } from '../../sandboxes/dynamics/kit.js';
import { demoAudienceIds, mailchimpSandboxKit } from '../../sandboxes/mailchimp/kit.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { validateAccessExport } from '../workflows/access-export-schema.js';

type DynamicsState = { contacts: Record<string, unknown>[]; leads: Record<string, unknown>[] };

/**
 * The done-when: a demo person present in all three tools asks for access through the API; the JSON
 * holds every planted value with its source system and validates against the published schema, and the HTML
 * names every system, purpose and source.
 */
describe('an access request for a demo person in all three tools, through the API', {
  timeout: 240_000,
}, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let ledger: Ledger;
  let store: AccessExportStore;
  let worker: { stop(): Promise<void> };
  let built: ReturnType<typeof buildConnectors>;
  let app: Awaited<ReturnType<typeof createApiServer>>;
  const apiKey = `chk_${Date.now()}_access_test_key`;
  const headers = { authorization: `Bearer ${apiKey}` };
  const ada = demoPeople.find((p) => p.firstName === 'Ada');
  if (!ada?.gaClientId)
    throw new Error('the demo people changed: Ada Lovelace with a GA client id is expected');

  beforeAll(async () => {
    temporal = await connectTestTemporal('access-api');
    vendors = await startVendorSandboxes();
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'access-api-ledger-')) }, silentLogger);
    store = new AccessExportStore(
      mkdtempSync(join(tmpdir(), 'access-api-exports-')),
      temporal.secrets.encryptionKeys,
    );
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger, accessExports: store });
    app = await createApiServer({
      hub: { ...temporal.context(), exportTtl: '1 hour' },
      ledger,
      logger: silentLogger,
      config: { CONSENT_HUB_API_KEYS: [hashApiKey(apiKey)] },
      accessExports: store,
    });
  });
  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await built?.close();
    await ledger?.close();
    await vendors?.close();
    await temporal?.close();
  });

  it('answers with every planted value and its source, valid against the published schema, and an HTML report naming every system, purpose and source', async () => {
    // The demo people as `npm start` seeds them, plus what this test plants on Ada.
    await vendors.dynamics.control.seed(dynamicsSandboxKit.demoSeed());
    const contact = (await vendors.dynamics.control.state<DynamicsState>()).contacts.find(
      (c) => c.emailaddress1 === ada.email,
    );
    const contactId = String(contact?.contactid);
    await vendors.dynamics.control.seed({
      phonecalls: [
        { subject: 'Called about the Analytical Engine order', _regardingobjectid_value: contactId },
      ],
    });
    const mailchimpSeed = mailchimpSandboxKit.demoSeed();
    for (const list of mailchimpSeed.lists)
      for (const member of list.members)
        if (member.email_address === ada.email && list.id === demoAudienceIds.newsletter) {
          member.tags = ['webinar-2025'];
          member.notes = [{ note: 'Asked for the price list', created_by: 'sales' }];
          member.activity = [{ activity_type: 'open', campaign_id: 'c0ffee', campaign_title: 'Autumn news' }];
        }
    await vendors.mailchimp.control.seed(mailchimpSeed);
    await vendors.google.control.seed({
      dataRetention: { '400000001': { eventDataRetention: 'FOURTEEN_MONTHS' } },
    });
    const subjectKey = subjectKeyFor(ada.email, temporal.secrets.subjectKeySecret);
    await ledger.appendConsentEvent({
      id: randomUUID(),
      subjectKey,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-15T10:00:00.000Z',
      recordedAt: '2026-01-15T10:00:01.000Z',
      source: 'web-form',
      evidence: { policyVersion: 'notice-2026-01', formId: 'newsletter-signup' },
    });

    const accepted = await app.inject({
      method: 'POST',
      url: '/v1/access-requests',
      headers,
      payload: { email: ada.email },
    });
    expect(accepted.statusCode).toBe(202);
    const { requestId, status: startedAs } = accepted.json() as { requestId: string; status: string };
    expect(startedAs).toBe('running');
    expect(accepted.headers.location).toBe(`/v1/access-requests/${requestId}`);
    let status = (
      await app.inject({ method: 'GET', url: `/v1/access-requests/${requestId}`, headers })
    ).json() as AccessStatusView;
    for (let i = 0; i < 400 && status.status === 'running'; i++) {
      await delay(250);
      status = (
        await app.inject({ method: 'GET', url: `/v1/access-requests/${requestId}`, headers })
      ).json() as AccessStatusView;
    }
    expect(status.status).toBe('ready');
    expect(Object.values(status.systems).map((s) => s.status)).toEqual([
      'collected',
      'collected',
      'collected',
    ]);

    const jsonAnswer = await app.inject({
      method: 'GET',
      url: `/v1/access-requests/${requestId}/export`,
      headers,
    });
    expect(jsonAnswer.statusCode).toBe(200);
    expect(jsonAnswer.headers['cache-control']).toBe('no-store');
    const document = jsonAnswer.json() as AccessExportDocument;
    expect(validateAccessExport(document)).toEqual([]);
    expect(document.subject.email).toBe(ada.email);

    /** The value of a field of a record from `system`, of `kind`, where a field `name` has `value`. */
    const has = (system: string, kind: string, name: string, value: unknown) =>
      document.records.some(
        (r) =>
          r.source.system === system &&
          r.source.kind === kind &&
          r.fields.some((f) => f.name === name && JSON.stringify(f.value) === JSON.stringify(value)),
      );
    // Dynamics: the contact with display names, the GA id column, and the call regarding it.
    expect(has('dynamics', 'contact', 'firstname', 'Ada')).toBe(true);
    expect(has('dynamics', 'contact', 'new_gaclientid', ada.gaClientId)).toBe(true);
    expect(has('dynamics', 'phonecall', 'subject', 'Called about the Analytical Engine order')).toBe(true);
    // Mailchimp: the member in both audiences, with merge fields, tags, a note, permissions and its feed.
    const members = document.records.filter(
      (r) => r.source.system === 'mailchimp' && r.source.kind === 'member',
    );
    expect(members.map((m) => m.source.container).sort()).toEqual(
      [demoAudienceIds.newsletter, demoAudienceIds.events].sort(),
    );
    expect(has('mailchimp', 'member', 'merge_fields.FNAME', 'Ada')).toBe(true);
    expect(has('mailchimp', 'member', 'merge_fields.COMPANY', ada.company)).toBe(true);
    const newsletter = members.find((m) => m.source.container === demoAudienceIds.newsletter);
    expect(newsletter?.fields.find((f) => f.name === 'tags')?.value).toEqual([
      expect.objectContaining({ name: 'webinar-2025', date_added: expect.any(String) }),
    ]);
    expect(newsletter?.fields.find((f) => f.name === 'marketing_permissions')?.value).toEqual(
      expect.arrayContaining([expect.objectContaining({ text: 'Email', enabled: true })]),
    );
    expect(has('mailchimp', 'note', 'note', 'Asked for the price list')).toBe(true);
    // Mailchimp names a note's id `id`: each note record carries it.
    const notes = document.records.filter((r) => r.source.system === 'mailchimp' && r.source.kind === 'note');
    expect(notes.length).toBeGreaterThan(0);
    for (const note of notes) expect(note.source.id).toMatch(/^\d+$/);
    expect(has('mailchimp', 'activity', 'campaign_title', 'Autumn news')).toBe(true);
    // Google: the id the hub knows from the CRM, the property's retention, and the plain statement.
    expect(has('google', 'gaClientId', 'knownFrom', ['dynamics'])).toBe(true);
    expect(has('google', 'gaClientId', 'clientId', ada.gaClientId)).toBe(true);
    expect(has('google', 'dataRetention', 'eventDataRetention', 'FOURTEEN_MONTHS')).toBe(true);
    expect(document.statements).toEqual([
      expect.objectContaining({
        system: 'google',
        text: expect.stringMatching(/no export of the data it holds about one user/),
      }),
    ]);
    // The hub's ledger: the consent event with its evidence.
    expect(
      has('ledger', 'consentEvent', 'evidence', {
        policyVersion: 'notice-2026-01',
        formId: 'newsletter-signup',
      }),
    ).toBe(true);
    // Every record is in a category the report explains.
    expect(document.records.filter((r) => r.category === null)).toEqual([]);

    const htmlAnswer = await app.inject({
      method: 'GET',
      url: `/v1/access-requests/${requestId}/export?format=html`,
      headers,
    });
    expect(htmlAnswer.headers['content-type']).toMatch(/^text\/html/);
    const html = htmlAnswer.body;
    for (const system of [
      'Microsoft Dynamics 365',
      'Intuit Mailchimp',
      'Google Analytics',
      'consent-hub&#39;s own ledger',
    ])
      expect(html).toContain(system);
    const escapeHtml = (text: string) =>
      text
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/'/g, '&#39;')
        .replace(/"/g, '&quot;');
    for (const category of defaultAccessCategories.categories) {
      expect(html).toContain(escapeHtml(category.title));
      for (const purpose of category.purposes) expect(html).toContain(escapeHtml(purpose));
      expect(html).toContain(escapeHtml(category.legalBasis));
      expect(html).toContain(escapeHtml(category.origin));
    }
    expect(html).toContain('Source: Microsoft Dynamics 365 (CRM), contact');
    expect(html).toContain(`Source: Intuit Mailchimp, member`);
    expect(html).toContain('Asked for the price list');
  });
});
