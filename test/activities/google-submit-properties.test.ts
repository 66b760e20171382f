import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/create-activities.js';
import type { WorkStarter } from '../../activities/reconciliation-activities.js';
import type { Connector } from '../../connectors/connector.js';
import { googleConfigSchema } from '../../connectors/google/config.js';
import { createGoogleConnector } from '../../connectors/google/connector.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { keyedVendorId } from '../../privacy/keyed-id.js';
import { SandboxClient } from '../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../sandboxes/framework/sandbox-server.js';
import { googleSandbox } from '../../sandboxes/google/sandbox.js';
import type { GoogleSandboxState, GoogleSandboxStore } from '../../sandboxes/google/store.js';
import { sandboxEnv, writeServiceAccount } from '../connectors/google/google-fixtures.js';
import { startTestSandbox } from '../support/sandboxes.js';

const logger = pino({ level: 'silent' });
const account = writeServiceAccount();
const secret = 'google-submit-properties-secret';
const dailyQuota = 3;
const starter = {} as WorkStarter;

/**
 * Issue 15: Google's daily quota is per GA4 property. An erasure's Google step that met the quota in one
 * property of several must, on its retry, send the ids still missing there to that property only: the
 * properties that accepted them already would spend their own quota on repeats.
 */
describe("erasure's Google submissions with several GA4 properties", () => {
  let sandbox: RunningSandbox<GoogleSandboxStore>;
  let control: SandboxClient;
  let ledger: Ledger;

  beforeAll(async () => {
    sandbox = await startTestSandbox(googleSandbox, {
      serviceAccounts: { [account.clientEmail]: account.publicKeyPem },
      propertyIds: ['properties/400000001', '400000002'],
      requestsPerSecond: 50,
      dailyQuotaPerProperty: dailyQuota,
    });
    control = new SandboxClient(sandbox.url);
    ledger = await openLedger({ dataDir: mkdtempSync(join(tmpdir(), 'google-properties-')) }, logger);
  });
  afterAll(async () => {
    await sandbox?.close();
    await ledger?.close();
  });

  const activitiesFor = () => {
    const google = createGoogleConnector(
      googleConfigSchema.parse(
        sandboxEnv(sandbox.url, account.path, {
          GA4_PROPERTY_IDS: 'properties/400000001,400000002',
          GA_REQUESTS_PER_SECOND: '50',
        }),
      ),
      { logger },
    );
    // The consent lane reads the CRM's GA ids first; this CRM holds none for the person.
    const dynamics = {
      system: 'dynamics',
      find: async () => ({ records: [], gaClientIds: [], gaUserIds: [], names: [] }),
    } as unknown as Connector;
    return createActivities({
      connectors: { google, dynamics },
      ledger,
      logger,
      subjectKeySecret: secret,
      starter,
    });
  };

  const upserts = async () =>
    (await control.requests()).filter((r) => r.method === 'POST' && /userDeletionRequests/.test(r.path));

  /** A fresh sandbox in which property 2 has room for one deletion today; property 1 for all. */
  async function propertyTwoNearlyFull() {
    await control.reset();
    await control.seed({ quotaUsed: { properties: { '400000002': dailyQuota - 1 } } });
  }

  /** "Midnight" in property 2: its quota is whole again, and the requests seen so far are forgotten. */
  async function midnightInPropertyTwo() {
    await control.clearRequests();
    await control.seed({ quotaUsed: { properties: { '400000002': 0 } } });
  }

  /** Each of `ids` was submitted exactly once to each of the two properties. */
  async function expectEachIdOnceInEachProperty(ids: string[]) {
    const state = await control.state<GoogleSandboxState>();
    for (const property of ['400000001', '400000002']) {
      for (const id of ids) {
        expect(
          (state.deletionRequests[property] ?? [])
            .filter((r) => r.identifier === id)
            .map((r) => r.submissions),
          `${property} ${id}`,
        ).toEqual([1]);
      }
    }
  }

  it('a retry after the quota met in one property sends the missing ids to that property only, and the ledger names each id in each property once', async () => {
    await propertyTwoNearlyFull();
    const ids = ['8100.1700000000', '8101.1700000001'];
    const input = {
      system: 'google' as const,
      requestId: `req-properties-${Date.now()}`,
      subjectKey: 'k'.repeat(64),
      subject: { email: '', gaClientIds: ids, gaUserIds: [] },
    };
    const activities = activitiesFor();
    const env = new MockActivityEnvironment();
    await expect(env.run(activities.submitErasure, input)).rejects.toThrow(/quota|exceeded/i);
    expect(await upserts()).toHaveLength(4);

    // The retry sends the one id property 2 lacks, nothing to property 1.
    await midnightInPropertyTwo();
    await env.run(activities.submitErasure, input);
    expect(await upserts()).toHaveLength(1);

    await expectEachIdOnceInEachProperty(ids);
    const records = await ledger.listErasureRecords(input.requestId, { system: 'google', limit: 100 });
    expect(records.map((r) => `${r.container}|${r.id}|${r.result}`).sort()).toEqual(
      ['properties/400000001', 'properties/400000002']
        .flatMap((p) => ids.map((id) => `${p}|${keyedVendorId(secret, 'google', id)}|submitted`))
        .sort(),
    );
  });

  it('consent: a statistics withdrawal retried after the quota met in one property sends the missing ids to that property only', async () => {
    await propertyTwoNearlyFull();
    const ids = ['8200.1700000000', '8201.1700000001'];
    const input = {
      system: 'google' as const,
      subjectKey: 'c'.repeat(64),
      subject: { email: '', gaClientIds: ids, gaUserIds: [] },
      request: {
        decisions: { statistics: { decision: 'withdrawn' as const, hasEvidence: true } },
        changed: ['statistics' as const],
      },
      eventIds: { statistics: `ev-${Date.now()}` },
    };
    const activities = activitiesFor();
    const env = new MockActivityEnvironment();
    await expect(env.run(activities.applyGoogleConsentFromCrm, input)).rejects.toThrow(/quota|exceeded/i);
    expect(await upserts()).toHaveLength(4);

    await midnightInPropertyTwo();
    const result = (await env.run(activities.applyGoogleConsentFromCrm, input)) as { outcome: string };
    expect(result.outcome).toBe('applied');
    expect(await upserts()).toHaveLength(1);
    await expectEachIdOnceInEachProperty(ids);
  });
});
