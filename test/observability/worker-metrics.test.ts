import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import { createNoopConnector } from '../../connectors/noop/noop-connector.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { activityMetricsInterceptor } from '../../observability/activity-metrics.js';
import { ledgerCheck, temporalCheck, vendorChecks } from '../../observability/hub-checks.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';
import { type RunningOpsServer, startOpsServer } from '../../observability/ops-server.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { connectTestTemporal, silentLogger } from '../support/temporal.js';

/** The value of the one sample of `name` whose labels include `labels`, whatever their order. */
function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, expected]) => found[key] === expected)) return Number(match[3]);
  }
  return undefined;
}

describe('the worker’s /metrics, /healthz and /readyz', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let ledger: Ledger;
  let ops: RunningOpsServer;
  let stopWorker: () => Promise<void>;
  const metrics = createHubMetrics('worker');
  let eraseCalls = 0;
  let dynamicsFinds = 0;
  let contactDeleted = false;
  const email = 'metrics.person@example.com';

  beforeAll(async () => {
    temporal = await connectTestTemporal('metrics');
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'consent-hub-metrics-')) }, silentLogger);
    const noop = createNoopConnector();
    // Mailchimp stand-in: erase is refused once with 429, then succeeds; its credentials "fail" for /readyz
    // with a message that names an address, which must not reach the probe's answer.
    const mailchimp = {
      ...noop,
      async erase() {
        eraseCalls++;
        if (eraseCalls === 1) {
          throw new RetryableVendorError({
            system: 'mailchimp',
            operation: 'erase',
            status: 429,
            reason: 'too many requests',
            retryAfterMs: 100,
          });
        }
        return { outcome: 'not_found' as const, records: [] };
      },
      async checkAccess() {
        throw new NonRetryableVendorError({
          system: 'mailchimp',
          operation: 'authenticate',
          status: 401,
          reason: `API key refused for owner ${email}`,
        });
      },
    };
    // Dynamics stand-in for a real erasure: the harvest (planErasure) is refused once with 429, then finds
    // one contact, which the delete page removes.
    const dynamics = {
      ...noop,
      async find() {
        dynamicsFinds++;
        if (dynamicsFinds === 1) {
          throw new RetryableVendorError({
            system: 'dynamics',
            operation: 'find',
            status: 429,
            reason: 'too many requests',
            retryAfterMs: 100,
          });
        }
        const records = contactDeleted ? [] : [{ kind: 'contact', id: 'c-1' }];
        return { records, gaClientIds: [], gaUserIds: [] };
      },
      async deleteRecord() {
        contactDeleted = true;
        return 'deleted' as const;
      },
    };
    const worker = await temporal.startWorker(
      { connectors: { noop, mailchimp, dynamics, google: noop }, ledger },
      { interceptors: { activity: [activityMetricsInterceptor(metrics)] } },
    );
    stopWorker = worker.stop;
    ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      readiness: [temporalCheck(temporal.client), ledgerCheck(ledger)],
    });
  });
  afterAll(async () => {
    await ops?.close();
    await stopWorker?.();
    await ledger?.close();
    await temporal?.close();
  });

  it('counts vendor calls by status class, the 429 apart, and the retry, with no person in any label', async () => {
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    await temporal.client.workflow.execute('connectorProbeWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: `probe-${subjectKey}`,
      args: [{ system: 'mailchimp', subjectKey, subject: { email, gaClientIds: [], gaUserIds: [] } }],
    });
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    const value = (name: string, labels: Record<string, string>) => sampleValue(text, name, labels);
    expect(
      value('consent_hub_vendor_calls_total', {
        system: 'mailchimp',
        operation: 'erase',
        status_class: '4xx',
      }),
    ).toBe(1);
    expect(
      value('consent_hub_vendor_calls_total', {
        system: 'mailchimp',
        operation: 'erase',
        status_class: 'ok',
      }),
    ).toBe(1);
    expect(value('consent_hub_vendor_throttled_total', { system: 'mailchimp', operation: 'erase' })).toBe(1);
    expect(
      value('consent_hub_activity_retries_total', { activity: 'eraseInSystem', system: 'mailchimp' }),
    ).toBe(1);
    expect(
      value('consent_hub_activity_duration_seconds_count', {
        activity: 'findInSystem',
        system: 'mailchimp',
        result: 'ok',
      }),
    ).toBe(1);
    expect(text).not.toContain(subjectKey);
    expect(text).not.toContain(email);
  });

  it('counts the vendor calls of a real erasure (harvest, delete page, submit) by the operation each connector call names', async () => {
    const erasureEmail = 'metrics.erasure@example.com';
    const context = {
      client: temporal.client,
      taskQueue: temporal.taskQueue,
      subjectKeySecret: temporal.secrets.subjectKeySecret,
      timings: { attentionAfter: '1 minute', operatorDeadline: '1 minute' },
    };
    const started = await requestErasure(context, {
      email: erasureEmail,
      gaClientIds: ['111.222'],
      requestedBy: 'test',
      requestedAt: new Date().toISOString(),
    });
    const receipt = await awaitReceipt(context, started);
    expect(receipt.systems.dynamics.status).toBe('erased');
    const text = await (await fetch(`${ops.url}/metrics`)).text();
    const value = (name: string, labels: Record<string, string>) => sampleValue(text, name, labels);
    // planErasure and deleteErasurePage: activity names no list in the metrics code ever held.
    expect(
      value('consent_hub_vendor_calls_total', { system: 'dynamics', operation: 'find', status_class: '4xx' }),
    ).toBe(1);
    expect(value('consent_hub_vendor_throttled_total', { system: 'dynamics', operation: 'find' })).toBe(1);
    expect(
      value('consent_hub_vendor_calls_total', { system: 'dynamics', operation: 'find', status_class: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value('consent_hub_vendor_calls_total', { system: 'dynamics', operation: 'erase', status_class: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    // Google's submitErasure, through the same wrapper.
    expect(
      value('consent_hub_vendor_calls_total', { system: 'google', operation: 'erase', status_class: 'ok' }),
    ).toBe(1);
    expect(value('consent_hub_activity_retries_total', { activity: 'planErasure', system: 'dynamics' })).toBe(
      1,
    );
    expect(text).not.toContain(started.subjectKey);
    expect(text).not.toContain(erasureEmail);
  });

  it('answers /healthz while alive, and /readyz 200 when Temporal and the ledger answer', async () => {
    const health = await fetch(`${ops.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${ops.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { temporal: 'ok', ledger: 'ok' } });
  });

  it('answers /readyz 503 naming the vendor whose credentials fail, without the address in its message', async () => {
    const noop = createNoopConnector();
    const failing = {
      ...noop,
      checkAccess: async () => {
        throw new Error(`token refused for ${email}`);
      },
    };
    const probe = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      readiness: [ledgerCheck(ledger), ...vendorChecks({ mailchimp: failing, noop })],
    });
    try {
      const answer = await fetch(`${probe.url}/readyz`);
      expect(answer.status).toBe(503);
      const body = (await answer.json()) as { ready: boolean; checks: Record<string, string> };
      expect(body.ready).toBe(false);
      expect(body.checks.ledger).toBe('ok');
      expect(body.checks.mailchimp).toMatch(/token refused/);
      expect(JSON.stringify(body)).not.toContain(email);
    } finally {
      await probe.close();
    }
  });

  it('refuses a taken port with a sentence naming the variable to change', async () => {
    await expect(
      startOpsServer({ host: '127.0.0.1', port: ops.port, registry: metrics.registry, readiness: [] }),
    ).rejects.toThrow(/CONSENT_HUB_METRICS_PORT/);
  });
});
