import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessExportDocument } from '../../activities/access-export.js';
import { buildConnectors } from '../../connectors/registry.js';
import type { AccessStatusView } from '../../domain/access.js';
import {
  type AccessClientContext,
  awaitAccess,
  lookupAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { largestPayload } from '../support/history.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { validateAccessExport } from './access-export-schema.js';

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;

type DynamicsState = { contacts: Record<string, unknown>[]; leads: Record<string, unknown>[] };

/**
 * Access requests against the real connectors and the vendor sandboxes, with an in-process worker: what
 * each system holds comes back in one JSON document (valid against the published schema) and an HTML
 * report, both encrypted at rest, and deleted when their time runs out.
 */
describe('access requests with the vendor sandboxes', { timeout: 240_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let ledger: Ledger;
  let store: AccessExportStore;
  let worker: { stop(): Promise<void> };
  let context: AccessClientContext;
  let built: ReturnType<typeof buildConnectors>;

  beforeAll(async () => {
    temporal = await connectTestTemporal('access');
    vendors = await startVendorSandboxes();
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'access-ledger-')) }, silentLogger);
    store = new AccessExportStore(
      mkdtempSync(join(tmpdir(), 'access-exports-')),
      temporal.secrets.encryptionKeys,
    );
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger, accessExports: store });
    context = {
      ...temporal.context(),
      timings: { attentionAfter: '1 minute', operatorDeadline: '5 minutes', heartbeatTimeout: '10 seconds' },
      exportTtl: '1 hour',
    };
  });
  afterAll(async () => {
    await worker?.stop();
    await built?.close();
    await ledger?.close();
    await vendors?.close();
    await temporal?.close();
  });

  const request = (email: string) => ({ email, requestedBy: 'test', requestedAt: new Date().toISOString() });

  /** Waits for the export, closing (as an operator would) any system this test does not plant data in. */
  const ready = async (requestId: string): Promise<AccessStatusView> => {
    for (;;) {
      const status = await awaitAccess(context, requestId);
      if (status.status !== 'needs_attention') return status;
      const handle = temporal.client.workflow.getHandle(await findWorkflowId(requestId));
      for (const [system, state] of Object.entries(status.systems)) {
        if (state.status === 'needs_attention')
          await handle.executeUpdate('closeSystem', {
            args: [{ system, reason: 'not part of this test', operator: 'test' }],
          });
      }
      await delay(100);
    }
  };
  const findWorkflowId = async (requestId: string) => accessWorkflowId(requestId);

  it('gathers every matching Dynamics contact and lead with all columns and display names, and the activities regarding them', async () => {
    const email = uniqueEmail('access.dyn');
    await vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: 'Planted',
          lastname: 'Contact',
          emailaddress1: email,
          jobtitle: 'Chief Planter',
          new_gaclientid: '111.222',
        },
      ],
      leads: [{ firstname: 'Planted', lastname: 'Lead', emailaddress2: email, companyname: 'Planted AB' }],
    });
    const state = await vendors.dynamics.control.state<DynamicsState>();
    const contactId = String(state.contacts.find((c) => c.emailaddress1 === email)?.contactid);
    const leadId = String(state.leads.find((c) => c.emailaddress2 === email)?.leadid);
    const longNote = 'x'.repeat(20_000);
    await vendors.dynamics.control.seed({
      emails: [{ subject: 'Your quote', description: longNote, _regardingobjectid_value: contactId }],
      phonecalls: [{ subject: 'Follow-up call', _regardingobjectid_value: leadId }],
      appointments: [{ subject: 'Demo meeting', _regardingobjectid_value: contactId }],
      tasks: [{ subject: 'Send brochure', _regardingobjectid_value: leadId }],
    });

    const started = await requestAccess(context, request(email), { ledger });
    expect(started.subjectKey).toBe(subjectKeyFor(email, temporal.secrets.subjectKeySecret));
    const status = await ready(started.requestId);
    expect(status.status).toBe('ready');
    // Answered once the copy can be fetched: the request leaves the deadline queue though the workflow waits on.
    expect((await ledger.getRequestDeadline(started.requestId))?.completedAt).toBeDefined();
    expect(status.systems.dynamics).toMatchObject({
      status: 'collected',
      counts: { contact: 1, lead: 1, email: 1, phonecall: 1, appointment: 1, task: 1 },
      recordCount: 6,
    });

    const { content } = await readAccessExport(context, store, started.requestId, 'json');
    const document = JSON.parse(content.toString('utf8')) as AccessExportDocument;
    expect(validateAccessExport(document)).toEqual([]);
    const dynamics = document.records.filter((r) => r.source.system === 'dynamics');
    const contact = dynamics.find((r) => r.source.kind === 'contact');
    expect(contact?.source.id).toBe(contactId);
    expect(contact?.category).toBe('contact_details');
    expect(contact?.fields).toEqual(
      expect.arrayContaining([
        { name: 'jobtitle', label: 'Job Title', value: 'Chief Planter' },
        { name: 'firstname', label: 'First Name', value: 'Planted' },
        { name: 'emailaddress1', label: 'Email', value: email },
        { name: 'donotbulkemail', label: 'Do not allow Bulk Emails', value: false },
      ]),
    );
    const lead = dynamics.find((r) => r.source.kind === 'lead');
    expect(lead?.fields).toEqual(
      expect.arrayContaining([{ name: 'companyname', label: 'Company Name', value: 'Planted AB' }]),
    );
    const emailActivity = dynamics.find((r) => r.source.kind === 'email');
    expect(emailActivity?.regarding).toEqual({ kind: 'contact', id: contactId });
    expect(emailActivity?.category).toBe('communication');
    expect(emailActivity?.fields).toEqual(
      expect.arrayContaining([
        { name: 'subject', label: 'Subject', value: 'Your quote' },
        { name: '_regardingobjectid_value', label: 'Regarding', value: contactId },
      ]),
    );
    expect(dynamics.find((r) => r.source.kind === 'phonecall')?.regarding).toEqual({
      kind: 'lead',
      id: leadId,
    });
    // The CRM's GA client id is listed as one the hub knows, from Dynamics.
    const ga = document.records.find((r) => r.source.system === 'google' && r.source.kind === 'gaClientId');
    expect(ga?.fields).toEqual(expect.arrayContaining([expect.objectContaining({ value: ['dynamics'] })]));
    // The status counts it too: Google's counts are the export's, GA client ids included.
    expect(status.systems.google.counts).toMatchObject({ gaClientId: 1 });
    expect(status.export?.counts.google).toMatchObject({ gaClientId: 1 });

    // The 20 KB description went to the export store, never into the workflow's history.
    const largest = await largestPayload(temporal.client, await findWorkflowId(started.requestId));
    expect(largest.bytes).toBeLessThan(4_000);
    // At rest the files are encrypted: neither the address nor a planted value is readable.
    const folder = join(store.directory, started.requestId);
    const raw = readdirSync(folder).map((name) => readFileSync(join(folder, name), 'latin1'));
    expect(raw.join('')).not.toContain('Chief Planter');
    expect(raw.join('')).not.toContain(email);
  });

  it('deletes the export when its time runs out, and the receipt says when', async () => {
    const email = uniqueEmail('access.ttl');
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Short', lastname: 'Lived', emailaddress1: email }],
    });
    const started = await requestAccess({ ...context, exportTtl: '3 seconds' }, request(email));
    const status = await ready(started.requestId);
    expect(status.expiresAt).toBeDefined();
    expect(await store.exists(started.requestId, 'export.json')).toBe(true);
    let after = await lookupAccess(context, started.requestId);
    // The running workflow reports `expired` a moment before it stores its receipt and ends; the receipt
    // (the workflow's result, with its kind) is what this test reads.
    for (let i = 0; i < 100 && !(after.status === 'expired' && 'kind' in after); i++) {
      await delay(200);
      after = await lookupAccess(context, started.requestId);
    }
    expect(after).toMatchObject({ status: 'expired', kind: 'access' });
    expect(after.deletedAt).toBeDefined();
    expect(Date.parse(after.deletedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(after.expiresAt ?? ''));
    expect(await store.exists(started.requestId, 'export.json')).toBe(false);
    await expect(readAccessExport(context, store, started.requestId, 'html')).rejects.toThrow(
      /expired .* deleted/,
    );
    // The receipt is in the ledger as the workflow returned it, with no address or name in it.
    const stored = await ledger.getAccessReceipt(started.requestId);
    expect(stored).toEqual(after);
    expect(JSON.stringify(stored)).not.toContain(email);
    expect(JSON.stringify(stored)).not.toContain('Lived');
    // Once Temporal has forgotten the workflow (retention), the ledger's receipt answers for it.
    const forgotten = { ...(stored as NonNullable<typeof stored>), requestId: randomUUID() };
    await ledger.recordAccessReceipt(forgotten);
    expect(await lookupAccess(context, forgotten.requestId, ledger)).toEqual(forgotten);
    await expect(lookupAccess(context, randomUUID(), ledger)).rejects.toThrow(/No request with id/);
  });
});
