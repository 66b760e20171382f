import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Payload } from '@temporalio/common';
import SqliteDatabase from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../api/api-keys.js';
import { createApiServer } from '../../api/create-api-server.js';
import { buildConnectors } from '../../connectors/registry.js';
import { emailSchema } from '../../domain/email.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { activityMetricsInterceptor } from '../../observability/activity-metrics.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';
import { SubjectEncryptionCodec } from '../../privacy/subject-codec.js';
import { ErasedSubjectKey, SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { demoAudienceIds } from '../../sandboxes/mailchimp/kit.js';
import { consentWorkflowId } from '../../workflows/consent-definitions.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

// The demo person: an address in mixed case (as people type it), a name only the CRM knows, a GA client id
// given with the request and another kept on the CRM row as a whole _ga cookie.
const stamp = `${Date.now()}${randomBytes(2).toString('hex')}`;
const typed = `Privacy.Scan.${stamp}@Example.ORG`;
const address = emailSchema.parse(typed);
const firstName = 'Ottoline';
const lastName = 'Vandersteen';
const requestGaId = '1357913579.2468024680';
const crmGaId = '8642086420.1122334455';
const hex = (algorithm: string, text: string) => createHash(algorithm).update(text).digest('hex');

/** Everything that would let someone with the hub's data say "this person was here". */
const needles: Record<string, string> = {
  'address as typed': typed,
  'address normalised': address,
  'address lower case': address.toLowerCase(),
  'address upper case': address.toUpperCase(),
  'address percent-encoded': encodeURIComponent(address),
  'local part': address.slice(0, address.lastIndexOf('@')).toLowerCase(),
  'first name': firstName,
  'last name': lastName,
  'MD5 of the address': hex('md5', address),
  'SHA-256 of the address': hex('sha256', address),
  'MD5 of the address (lower case)': hex('md5', address.toLowerCase()),
  'SHA-256 of the address (lower case)': hex('sha256', address.toLowerCase()),
  'GA client id given': requestGaId,
  'GA client id in the CRM': crmGaId,
};

/** The needles found in a text, case-insensitively (hex digests and ids have no case to speak of). */
function found(text: string): string[] {
  const haystack = text.toLowerCase();
  return Object.entries(needles)
    .filter(([, needle]) => haystack.includes(needle.toLowerCase()))
    .map(([name]) => name);
}

/**
 * Issue 16's "done when": after an opt-out, an erasure and a failed vendor call whose error text holds the
 * address and the name, everything the hub stores or says is scanned for the person: Temporal histories
 * (raw, and decoded with the hub's own codec), workflow ids, search attributes and memos, every ledger
 * table (every row, every column), the worker's and the API's logs, both processes' metrics, and every
 * API answer. Nothing is found.
 */
describe('privacy scan: nothing the hub keeps or says names the person', { timeout: 240_000 }, () => {
  let ledger: Ledger;
  let ledgerDir: string;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let worker: { stop(): Promise<void> };
  let api: FastifyInstance;
  const logs = capturingLogger();
  const workerMetrics = createHubMetrics('worker');
  const apiMetrics = createHubMetrics('api');
  const key = `chk_${randomBytes(24).toString('base64url')}`;
  const answers: { route: string; status: number; body: string }[] = [];

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown, idempotencyKey?: string) => {
    const answer = await api.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${key}`,
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    answers.push({ route: `${method} ${url}`, status: answer.statusCode, body: answer.body });
    return { status: answer.statusCode, body: answer.json() as Record<string, unknown> };
  };

  beforeAll(async () => {
    ledgerDir = mkdtempSync(join(tmpdir(), 'consent-hub-privacy-scan-'));
    ledger = await openLedger({ dataDir: ledgerDir }, logs.logger);
    temporal = await connectTestTemporal('privacy-scan', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    const { connectors } = buildConnectors({ ...process.env, ...vendors.env }, logs.logger);
    worker = await temporal.startWorker(
      { connectors, ledger, logger: logs.logger },
      { interceptors: { activity: [activityMetricsInterceptor(workerMetrics)] } },
    );
    api = await createApiServer({
      hub: temporal.context(),
      ledger,
      logger: logs.logger,
      observability: { metrics: apiMetrics, readiness: [] },
      config: { CONSENT_HUB_API_KEYS: [hashApiKey(key)] },
    });
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  it('finds the address, its forms and digests, the name and the GA ids nowhere after an opt-out, an erasure, a failed vendor call and an operator close note naming the person', async () => {
    await vendors.dynamics.control.seed({
      contacts: [
        {
          firstname: firstName,
          lastname: lastName,
          emailaddress1: address,
          new_gaclientid: `GA1.1.${crmGaId}`,
        },
      ],
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: demoAudienceIds.newsletter,
          name: 'Newsletter',
          members: [
            {
              email_address: address,
              status: 'subscribed',
              merge_fields: { FNAME: firstName, LNAME: lastName },
            },
          ],
        },
      ],
    });
    const subjectKey = subjectKeyFor(address, temporal.secrets.subjectKeySecret);

    // 1. An opt-out through the API, carried to the tools by the consent workflow.
    const optOut = await call(
      'POST',
      '/v1/consent-events',
      {
        email: typed,
        purpose: 'marketing_email',
        decision: 'withdrawn',
        occurredAt: new Date().toISOString(),
        source: 'form:newsletter',
      },
      `opt-out-${stamp}`,
    );
    expect(optOut.status).toBe(202);
    // The consent workflow ends once idle (5 s in tests): its inputs may then be shredded with the rest.
    await temporal.client.workflow.getHandle(consentWorkflowId(subjectKey)).result();
    await call('GET', `/v1/requests/${String(optOut.body.eventId)}`);
    // An extension reason naming the person, stored as a build whose name lookup failed open kept it (issue
    // 16, F1): the erasure must take it out of the ledger like the rest of their evidence.
    await ledger.recordOperatorAction({
      id: `extend-${stamp}`,
      requestId: String(optOut.body.eventId),
      requestKind: 'consent',
      action: 'extend',
      operator: 'cli:dpo',
      reason: `+1 month (due 2099-01-01T00:00:00.000Z): ${firstName} ${lastName} asked for paper copies`,
      at: new Date().toISOString(),
    });

    // 2. The erasure, whose first Dataverse delete fails with an error quoting the address and the name.
    await vendors.dynamics.control.fail({
      method: 'DELETE',
      path: '^/api/data/v9.2/contacts',
      status: 400,
      // The retry fails too: the operator then closes Dataverse with a note naming the person.
      count: 2,
      message: `Contact ${address.toUpperCase()} (${firstName} ${lastName}, cookie GA1.1.${crmGaId}) is locked by a plug-in`,
    });
    const erasure = await call(
      'POST',
      '/v1/erasures',
      { email: typed, gaClientIds: [requestGaId], reason: 'subject_request' },
      `erasure-${stamp}`,
    );
    expect(erasure.status).toBe(202);
    const requestId = String(erasure.body.requestId);
    let failureReason = '';
    for (let i = 0; i < 240 && !failureReason; i++) {
      const status = await call('GET', `/v1/erasures/${requestId}`);
      const dynamics = (
        status.body.status as { systems?: Record<string, { status: string; failure?: { reason: string } }> }
      )?.systems?.dynamics;
      if (dynamics?.status === 'needs_attention') failureReason = dynamics.failure?.reason ?? '';
      else await delay(250);
    }
    // The operator learns what Dataverse said, without the person.
    expect(failureReason).toMatch(
      /^Dataverse rejected the request: Contact \[email\] \(\[name\] \[name\], cookie GA1\.1\.\[identifier\]\) is locked by a plug-in$/,
    );
    expect((await call('POST', `/v1/requests/${requestId}/retry`, { system: 'dynamics' })).status).toBe(200);
    let attention = 0;
    for (let i = 0; i < 240 && !attention; i++) {
      const status = await call('GET', `/v1/erasures/${requestId}`);
      const dynamics = (
        status.body.status as { systems?: Record<string, { status: string; attempts: number }> }
      )?.systems?.dynamics;
      if (dynamics?.status === 'needs_attention' && dynamics.attempts >= 2) attention = dynamics.attempts;
      else await delay(250);
    }
    expect(attention).toBeGreaterThanOrEqual(2);
    // The operator's own words name the person as the CRM has them, and their address in two forms: the
    // client knows neither name, the workflow redacts both before the update, receipt or ledger keep them.
    const closed = await call('POST', `/v1/requests/${requestId}/close`, {
      system: 'dynamics',
      reason: `row locked; ${firstName} ${lastName.toUpperCase()} ${address} (${encodeURIComponent(address)})`,
    });
    expect(closed.status).toBe(200);
    expect(JSON.stringify(closed.body)).toContain('row locked; [name] [name] [email] ([email])');
    let receipt: Record<string, unknown> | undefined;
    for (let i = 0; i < 240 && !receipt; i++) {
      const answer = await call('GET', `/v1/erasures/${requestId}`);
      if (answer.body.state === 'completed') receipt = answer.body.receipt as Record<string, unknown>;
      else await delay(250);
    }
    expect(receipt?.outcome).toBe('completed_with_failures');
    expect(JSON.stringify(receipt)).toContain('row locked; [name] [name] [email] ([email])');
    // The closed system is followed up by a second erasure, which reaches it: nothing is left open.
    const again = await call(
      'POST',
      '/v1/erasures',
      { email: typed, reason: 'subject_request' },
      `erasure-again-${stamp}`,
    );
    expect(again.status).toBe(202);
    const secondId = String(again.body.requestId);
    let second: Record<string, unknown> | undefined;
    for (let i = 0; i < 240 && !second; i++) {
      const answer = await call('GET', `/v1/erasures/${secondId}`);
      if (answer.body.state === 'completed') second = answer.body.receipt as Record<string, unknown>;
      else await delay(250);
    }
    expect(second?.outcome).toBe('completed');
    await call('POST', '/v1/subjects/status', { email: typed });
    await call('GET', `/v1/requests/${requestId}`);
    // Crypto-shredding: once the person's workflows closed, their data keys go.
    const shred = await temporal.client.workflow.getHandle(shredWorkflowId(subjectKey, secondId)).result();
    expect(shred.destroyed).toBeGreaterThanOrEqual(1);
    // The vendors really held the person and were really told: the scan below is not of an empty hub.
    expect(JSON.stringify(await vendors.google.control.state())).toContain(requestGaId);

    // ---- the scan ----
    const sources: Record<string, string> = {};
    const executions: string[] = [];
    const workflowIds: string[] = [];
    for await (const execution of temporal.client.workflow.list({
      query: `TaskQueue = '${temporal.taskQueue}'`,
    })) {
      workflowIds.push(execution.workflowId);
      executions.push(
        JSON.stringify({
          workflowId: execution.workflowId,
          type: execution.type,
          searchAttributes: execution.searchAttributes,
          typedSearchAttributes: execution.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value]),
          memo: execution.memo,
        }),
      );
    }
    expect(workflowIds).toEqual(
      expect.arrayContaining([`erasure-${subjectKey}`, consentWorkflowId(subjectKey)]),
    );
    sources['workflow ids, search attributes, memos'] = executions.join('\n');

    const codec = new SubjectEncryptionCodec(
      temporal.secrets.encryptionKeys,
      new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys),
    );
    const raw: string[] = [];
    const decoded: string[] = [];
    let sealedUnreadable = 0;
    for (const workflowId of new Set(workflowIds)) {
      raw.push(await rawHistoryText(temporal.client, workflowId));
      const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
      const payloads: Payload[] = [];
      const visit = (value: unknown): void => {
        if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
        if (Array.isArray(value)) value.forEach(visit);
        else if ('metadata' in value && 'data' in value && (value as Payload).data instanceof Uint8Array)
          payloads.push(value as Payload);
        else Object.values(value).forEach(visit);
      };
      visit(history.events);
      for (const payload of payloads) {
        try {
          const [plain] = await codec.decode([payload]);
          decoded.push(Buffer.from(plain?.data ?? new Uint8Array()).toString('utf8'));
        } catch (error) {
          if (!(error instanceof ErasedSubjectKey)) throw error;
          sealedUnreadable += 1;
        }
      }
    }
    // Both kinds are there: payloads the codec still reads (receipts, statuses) and the person's, shredded.
    expect(decoded.length).toBeGreaterThan(10);
    expect(sealedUnreadable).toBeGreaterThan(3);
    sources['Temporal histories, raw'] = raw.join('\n');
    sources['Temporal histories, decoded with the codec'] = decoded.join('\n');

    // Every ledger table, every row and column, straight from the database file.
    const database = new SqliteDatabase(join(ledgerDir, 'ledger.sqlite'), { readonly: true });
    try {
      const tables = database.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[];
      expect(tables.map((t) => t.name)).toEqual(
        expect.arrayContaining(['erasure_receipts', 'erasure_records', 'tombstones']),
      );
      for (const { name } of tables) {
        const rows = database.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
        sources[`ledger table ${name}`] = rows
          .map((row) =>
            Object.values(row)
              .map((value) =>
                Buffer.isBuffer(value) ? `${value.toString('utf8')} ${value.toString('hex')}` : String(value),
              )
              .join('\t'),
          )
          .join('\n');
      }
    } finally {
      database.close();
    }

    sources['worker and API logs'] = logs.lines.join('\n');
    expect(logs.lines.length).toBeGreaterThan(10);
    sources['worker metrics'] = await workerMetrics.registry.metrics();
    sources['API metrics'] = await apiMetrics.registry.metrics();
    sources['API answers'] = answers.map((a) => `${a.route} ${a.status} ${a.body}`).join('\n');

    // What is there is there, redacted: the name was logged (by the connector's warning) and replaced.
    expect(sources['worker and API logs']).toContain('[name]');
    expect(sources['ledger table erasure_receipts']).toContain(requestId);
    // The operator's note is kept, redacted, in the receipt and the request's log.
    expect(sources['ledger table erasure_receipts']).toContain('row locked; [name] [name]');
    expect(Object.values(sources).join('\n')).toContain('row locked; [name] [name] [email]');
    // The extension reason is there still, its words gone with the person.
    expect(sources['ledger table operator_actions']).toContain(
      '+1 month (due 2099-01-01T00:00:00.000Z): [removed: the subject was erased]',
    );
    expect(sources['Temporal histories, decoded with the codec']).toContain(requestId);
    expect(sources['API answers']).toContain(subjectKey);
    const leaks = Object.entries(sources)
      .map(([source, text]) => ({ source, found: found(text) }))
      .filter((leak) => leak.found.length > 0);
    expect(leaks).toEqual([]);
    // The matcher finds each form whatever its case (a mutation that stops the logger's subject redaction
    // makes this test fail on the logs).
    expect(
      found(`x ${address.toUpperCase()} ${hex('md5', address).toUpperCase()} ${lastName.toLowerCase()}`),
    ).toEqual(expect.arrayContaining(['address normalised', 'MD5 of the address', 'last name']));
  });
});
