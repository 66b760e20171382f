import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { buildConnectors } from '../../connectors/registry.js';
import type { Ledger } from '../../ledger/ledger.js';
import { AccessExportStore } from '../../privacy/access-export-store.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';
import { validateAccessExport } from '../workflows/access-export-schema.js';
import { cli, cliDataDir, cliEnvironment, ledgerIn } from './cli-test-kit.js';

/** `consent-hub access` as an operator runs it, in this process, against the vendor sandboxes. */
describe('consent-hub access and access get', { timeout: 240_000 }, () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let worker: { stop(): Promise<void> };
  let ledger: Ledger;
  let built: ReturnType<typeof buildConnectors>;
  const email = `cli.access.${Date.now()}@example.com`;
  const out = mkdtempSync(join(tmpdir(), 'access-cli-out-'));

  beforeAll(async () => {
    const dataDir = cliDataDir();
    ledger = await ledgerIn(dataDir);
    temporal = await connectTestTemporal('cli-access', { subjectKeyLedger: ledger });
    const { env } = cliEnvironment(temporal, dataDir);
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    vendors = await startVendorSandboxes();
    built = buildConnectors({ ...process.env, ...vendors.env }, silentLogger);
    // The CLI reads exports where the worker writes them: <data dir>/exports by default.
    const accessExports = new AccessExportStore(join(dataDir, 'exports'), temporal.secrets.encryptionKeys);
    worker = await temporal.startWorker({ connectors: built.connectors, ledger, accessExports });
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Cli', lastname: 'Reader', emailaddress1: email, jobtitle: 'Archivist' }],
    });
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await worker?.stop();
    await built?.close();
    await ledger?.close();
    await vendors?.close();
    await temporal?.close();
  });

  it('access --wait --json prints one object with the request id and status ready; get writes the JSON and the HTML (mode 0600)', async () => {
    const started = await cli('access', '--email', email, '--wait', '--json');
    expect(started.code).toBe(0);
    const status = JSON.parse(started.stdout) as { requestId: string; status: string; dueAt: string };
    expect(status).toMatchObject({ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'ready' });
    expect(status.dueAt).toBeDefined();

    const jsonFile = join(out, 'export.json');
    const got = await cli('access', 'get', status.requestId, '--out', jsonFile);
    expect(got.code).toBe(0);
    expect(statSync(jsonFile).mode & 0o777).toBe(0o600);
    const document = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
      records: { source: { system: string } }[];
    };
    expect(validateAccessExport(document)).toEqual([]);
    expect(readFileSync(jsonFile, 'utf8')).toContain('Archivist');

    // Over a file anyone may read, the export still ends up readable by its owner only.
    const htmlFile = join(out, 'report.html');
    writeFileSync(htmlFile, 'an older report');
    chmodSync(htmlFile, 0o644);
    expect((await cli('access', 'get', status.requestId, '--out', htmlFile, '--format', 'html')).code).toBe(
      0,
    );
    expect(statSync(htmlFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(htmlFile, 'utf8')).toMatch(
      /<h1>Your personal data<\/h1>[\s\S]*Job Title[\s\S]*Archivist/,
    );

    // The request is on the deadline rail, answered.
    const listed = await cli('requests', '--kind', 'access', '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ requestId: status.requestId, kind: 'access', state: 'completed' }),
      ]),
    );
  });

  it('receipt <access id> reads the access receipt from the ledger, with Temporal out of reach (as after its retention)', async () => {
    // A short-lived export: the workflow deletes it, stores its receipt in the ledger and ends.
    vi.stubEnv('CONSENT_HUB_EXPORT_TTL', '2 seconds');
    const started = await cli('access', '--email', email, '--wait', '--json');
    vi.stubEnv('CONSENT_HUB_EXPORT_TTL', '30 days');
    expect(started.code).toBe(0);
    const { requestId } = JSON.parse(started.stdout) as { requestId: string };
    let stored = await ledger.getAccessReceipt(requestId);
    for (let i = 0; !stored && i < 80; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      stored = await ledger.getAccessReceipt(requestId);
    }
    expect(stored).toMatchObject({ requestId, kind: 'access', outcome: 'completed' });

    // Nothing listens on port 1: only the ledger can answer.
    vi.stubEnv('TEMPORAL_ADDRESS', '127.0.0.1:1');
    try {
      const json = await cli('receipt', requestId, '--json');
      expect(json.stderr).toBe('');
      expect(json.code).toBe(0);
      const shown = JSON.parse(json.stdout) as Record<string, unknown>;
      const { deadline, ...receipt } = shown;
      expect(receipt).toEqual(stored);
      expect(deadline).toMatchObject({ requestId, kind: 'access', completedAt: stored?.completedAt });

      const text = await cli('receipt', requestId);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`Access receipt ${requestId}`);
      expect(text.stdout).toMatch(/completed\s+\S+\s+outcome: completed/);
      expect(text.stdout).toMatch(/dynamics\s+\S+\s+1 records/);
      expect(text.stdout).toMatch(/export deleted {2}\S+/);
      expect(text.stdout).not.toContain(email);

      // An erasure-style id that the ledger does not know needs Temporal: told plainly, exit 4.
      const unknown = await cli('receipt', '00000000-0000-4000-8000-000000000000');
      expect(unknown.code).toBe(4);
    } finally {
      vi.stubEnv('TEMPORAL_ADDRESS', inject('temporalAddress'));
    }
  });

  it('access --json without --wait answers at once with the request id and status running', async () => {
    const started = await cli('access', '--email', email, '--json');
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ requestId: expect.any(String), status: 'running' });
  });

  it('refuses a bad address, a bad format and an unknown request id with exit 2 and one line', async () => {
    expect((await cli('access', '--email', 'not-an-address', '--json')).code).toBe(2);
    expect(
      (
        await cli(
          'access',
          'get',
          '00000000-0000-4000-8000-000000000000',
          '--out',
          join(out, 'x'),
          '--format',
          'pdf',
        )
      ).code,
    ).toBe(2);
    const unknown = await cli(
      'access',
      'get',
      '00000000-0000-4000-8000-000000000000',
      '--out',
      join(out, 'x'),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('00000000-0000-4000-8000-000000000000');
  });
});
