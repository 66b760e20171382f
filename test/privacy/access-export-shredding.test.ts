import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { buildConnectors } from '../../connectors/registry.js';
import type { AccessReceipt, AccessStatusView } from '../../domain/access.js';
import {
  type AccessClientContext,
  AccessExportGone,
  awaitAccess,
  readAccessExport,
  requestAccess,
} from '../../hub-client/access.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';
import { AccessExportErased, AccessExportStore } from '../../privacy/access-export-store.js';
import { SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { accessWorkflowId } from '../../workflows/access-definitions.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { waitFor } from '../support/waiting.js';

const email = `export.shred.${Date.now()}${randomBytes(2).toString('hex')}@example.org`;
const firstName = 'Philippa';
const lastName = 'Exportwood';

/**
 * Issue 16 with issue 18's exports: an access export waiting for its 30-day expiry is a copy of the person's
 * data, so it is sealed with their data key and goes with their erasure: the files are deleted, a copy kept
 * elsewhere can no longer be decrypted by the hub's keys, and a fetch answers 410 naming no one.
 */
describe('access exports die with their subject', { timeout: 240_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let ledger: Ledger;
  let exportDir: string;
  let worker: { stop(): Promise<void> };
  let built: ReturnType<typeof buildConnectors>;
  let api: FastifyInstance;
  let context: AccessClientContext & ReturnType<typeof temporal.context>;
  const key = `chk_${randomBytes(24).toString('base64url')}`;
  /** Each process (worker, API, CLI) opens its own store over the same directory and ledger. */
  const storeOf = (withSubjectKeys = true) =>
    new AccessExportStore(
      exportDir,
      temporal.secrets.encryptionKeys,
      withSubjectKeys ? new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys) : undefined,
    );
  const get = (url: string) =>
    api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'export-shred-ledger-')) }, silentLogger);
    temporal = await connectTestTemporal('export-shred', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    exportDir = mkdtempSync(join(tmpdir(), 'export-shred-exports-'));
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger, accessExports: storeOf() });
    context = { ...temporal.context(), exportTtl: '30 days' };
    api = await createApiServer({
      hub: context,
      ledger,
      logger: silentLogger,
      observability: { metrics: createHubMetrics('api'), readiness: [] },
      config: { CONSENT_HUB_API_KEYS: [hashApiKey(key)] },
      accessExports: storeOf(),
    });
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await built?.close();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  it('seals the export with the subject data key, deletes it at erasure, leaves a copy undecryptable and answers 410', async () => {
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: firstName, lastname: lastName, emailaddress1: email }],
    });
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    const started = await requestAccess(
      context,
      { email, requestedBy: 'test', requestedAt: new Date().toISOString() },
      { ledger },
    );
    let status: AccessStatusView;
    for (;;) {
      status = await awaitAccess(context, started.requestId);
      if (status.status !== 'needs_attention') break;
      const handle = temporal.client.workflow.getHandle(accessWorkflowId(started.requestId));
      for (const [system, state] of Object.entries(status.systems)) {
        if (state.status === 'needs_attention')
          await handle.executeUpdate('closeSystem', {
            args: [{ system, reason: 'not in this test', operator: 'test' }],
          });
      }
      await delay(100);
    }
    expect(status.status).toBe('ready');

    // Before: the person's data is in the export, readable through the API; the files are sealed with their key.
    const before = await get(`/v1/access-requests/${started.requestId}/export`);
    expect(before.statusCode).toBe(200);
    expect(before.body).toContain(email);
    expect(before.body).toContain(lastName);
    const folder = join(exportDir, started.requestId);
    const sealed = readdirSync(folder).filter((name) => name.endsWith('.enc'));
    expect(sealed).toEqual(expect.arrayContaining(['export.json.enc', 'export.html.enc']));
    // A backup taken while the export waited for its expiry.
    const backup = readFileSync(join(folder, 'export.json.enc'));
    expect(backup.subarray(0, 4).toString('ascii')).toBe('CHX2');
    expect((await storeOf().open(started.requestId, 'export.json', backup)).toString('utf8')).toContain(
      email,
    );
    // The hub's master keys alone never opened it.
    await expect(storeOf(false).open(started.requestId, 'export.json', backup)).rejects.toThrow(
      /subject data key/,
    );

    // The erasure: it completes, deletes the pending export and (its workflows closed) destroys the key.
    const erasure = await api.inject({
      method: 'POST',
      url: '/v1/erasures',
      headers: { authorization: `Bearer ${key}`, 'idempotency-key': `erase-${subjectKey.slice(0, 12)}` },
      payload: { email, reason: 'subject_request' },
    });
    expect(erasure.statusCode).toBe(202);
    const requestId = String((erasure.json() as { requestId: string }).requestId);
    let outcome: string | undefined;
    for (let i = 0; i < 480 && !outcome; i++) {
      const answer = (await get(`/v1/erasures/${requestId}`)).json() as {
        state: string;
        receipt?: { outcome: string };
      };
      if (answer.state === 'completed') outcome = answer.receipt?.outcome;
      else await delay(250);
    }
    expect(outcome).toBe('completed');
    // The receipt is stored before the same activity starts the shredding, so the erasure can read
    // completed a moment before the shredding workflow exists.
    const shred = await waitFor(
      'the erasure started its shredding',
      () => temporal.client.workflow.getHandle(shredWorkflowId(subjectKey, requestId)).result(),
      { retryErrors: true },
    );
    expect(shred.destroyed).toBeGreaterThanOrEqual(1);
    // The access workflow waiting for the export's expiry ended with the erasure, its receipt saying why.
    const ended = (await temporal.client.workflow
      .getHandle(accessWorkflowId(started.requestId))
      .result()) as AccessReceipt;
    expect(ended).toMatchObject({
      status: 'withdrawn',
      outcome: 'withdrawn_subject_erased',
      withdrawn: { reason: 'subject_erased', erasureRequestId: requestId },
    });
    expect(ended.deletedAt).toBeDefined();

    // After: no export file is left; the backup is unreadable with every key the hub has.
    expect(readdirSync(folder).filter((name) => name.endsWith('.enc'))).toEqual([]);
    await expect(storeOf().open(started.requestId, 'export.json', backup)).rejects.toBeInstanceOf(
      AccessExportErased,
    );
    await expect(storeOf(false).open(started.requestId, 'export.json', backup)).rejects.toThrow();

    // A fetch answers 410 Gone over the API, and the CLI's error says why; neither names the person.
    for (const format of ['json', 'html']) {
      const gone = await get(`/v1/access-requests/${started.requestId}/export?format=${format}`);
      expect(gone.statusCode).toBe(410);
      expect(gone.body).toContain('deleted when its subject was erased');
      for (const needle of [email, email.split('@')[0] ?? email, firstName, lastName])
        expect(gone.body.toLowerCase()).not.toContain(needle.toLowerCase());
    }
    const refused = await readAccessExport(context, storeOf(), started.requestId, 'json').catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(AccessExportGone);
    expect(String((refused as Error).message)).toBe(
      `The export of request ${started.requestId} was deleted when its subject was erased; it can no longer be fetched.`,
    );
  });
});
