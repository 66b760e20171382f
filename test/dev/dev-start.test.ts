import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devCommand } from '../../cli/commands/dev-command.js';
import { devJsonPath, readDevJson, removeDevJson, writeDevJson } from '../../dev/dev-json.js';
import { registerRunningDev, resolveDevDataDir, runningDevSetups } from '../../dev/dev-registry.js';
import { assertPortsFree, DevPortsTaken } from '../../dev/port-check.js';
import { devPortDefaults, devPorts } from '../../dev/run-dev.js';
import { sandboxStateFile } from '../../dev/sandbox-state-file.js';
import { SupervisedProcess } from '../../dev/supervised-process.js';
import { waitUntil } from '../../dev/wait-until.js';

class Webhooks {
  hooks = new Map<string, { url: string }>();
  deliveries: string[] = [];
  snapshot() {
    return [...this.hooks.values()];
  }
}
class ToyStore {
  readonly options = { apiKeys: ['k'] };
  tables = new Map<string, Map<string, { email: string }>>();
  deleted = new Set<string>();
  version = 1000;
  inFlight = new Map<string, number>();
  readonly webhooks = new Webhooks();
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'consent-hub-dev-test-'));

describe('sandbox records persist in the data dir across dev restarts', () => {
  it('puts back records, deletions, counters and nested helpers into a fresh store, and not in-flight counters', () => {
    const path = join(tempDir(), 'state.v8');
    const first = new ToyStore();
    expect(sandboxStateFile(path, first).loaded).toBe(false);
    first.tables.set('contacts', new Map([['1', { email: 'grace.hopper@example.com' }]]));
    first.deleted.add('alan');
    first.version = 1042;
    first.inFlight.set('key', 3);
    first.webhooks.hooks.set('w1', { url: 'http://127.0.0.1/hook' });
    sandboxStateFile(path, first).save();

    const second = new ToyStore();
    const state = sandboxStateFile(path, second);
    expect(state.loaded).toBe(true);
    expect(second.tables.get('contacts')?.get('1')).toEqual({ email: 'grace.hopper@example.com' });
    expect([...second.deleted]).toEqual(['alan']);
    expect(second.version).toBe(1042);
    expect(second.inFlight.size).toBe(0);
    // The helper keeps its class (its methods work) and gets its fields back.
    expect(second.webhooks).toBeInstanceOf(Webhooks);
    expect(second.webhooks.snapshot()).toEqual([{ url: 'http://127.0.0.1/hook' }]);
  });
});

describe('dev refuses ports that are already served', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('lists every port npm start uses by default: Temporal, UI, sandboxes, API, both metrics and the codec server', () => {
    expect(devPorts(devPortDefaults).map((p) => p.port)).toEqual([
      7233, 8233, 7301, 7302, 7303, 7311, 7312, 7313, 7314,
    ]);
    // The CLI's flag defaults are the ones .ci/readme-commands.sh checks (it prints devPorts(devPortDefaults)).
    const flagDefault = (flag: string) => devCommand.options.find((o) => o.long === flag)?.defaultValue;
    expect(flagDefault('--temporal-port')).toBe(String(devPortDefaults.temporalPort));
    expect(flagDefault('--ui-port')).toBe(String(devPortDefaults.uiPort));
    expect(flagDefault('--sandbox-port-base')).toBe(String(devPortDefaults.sandboxPortBase));
  });

  it('names every taken port and the flag that moves it, and passes free ones', async () => {
    server = createServer();
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', () => resolve()));
    const address = listening.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const error = await assertPortsFree([{ port, use: 'Temporal frontend (--temporal-port)' }]).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(DevPortsTaken);
    expect(error.message).toContain(`port ${port}: Temporal frontend (--temporal-port)`);
    listening.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(assertPortsFree([{ port, use: 'x' }])).resolves.toBeUndefined();
  });
});

describe('consent-hub env finds the running dev setup', () => {
  it('prefers the named dir, then ./.consent-hub, then the one running setup, and cleans up dead entries', () => {
    const registry = tempDir();
    const env = { CONSENT_HUB_DEV_REGISTRY: registry };
    const none = () => false;
    expect(resolveDevDataDir('/named', none, env)).toBe('/named');
    expect(resolveDevDataDir(undefined, none, env)).toBe('.consent-hub');
    const unregister = registerRunningDev('/elsewhere/data', env);
    expect(resolveDevDataDir(undefined, none, env)).toBe('/elsewhere/data');
    expect(resolveDevDataDir(undefined, (dir) => dir === '.consent-hub', env)).toBe('.consent-hub');
    writeFileSync(
      join(registry, '999999999.json'),
      JSON.stringify({ pid: 999999999, dataDir: '/dead', cwd: '/', startedAt: new Date().toISOString() }),
    );
    expect(runningDevSetups(env).map((entry) => entry.dataDir)).toEqual(['/elsewhere/data']);
    unregister();
    expect(runningDevSetups(env)).toEqual([]);
  });
});

describe('dev.json is written whole, once ready', () => {
  it('replaces the file atomically, carries ready and metrics, and is gone after stop', () => {
    const dir = tempDir();
    const devJson = {
      temporal: { address: 'a', namespace: 'n', taskQueue: 'q', ui: 'u', cli: 'c' },
      caFile: 'ca',
      env: {},
      sandboxes: {},
      metrics: { worker: 'http://127.0.0.1:1', api: 'http://127.0.0.1:2' },
      ready: true as const,
    };
    writeDevJson(dir, devJson);
    expect(readDevJson(dir)).toMatchObject({ ready: true, metrics: devJson.metrics });
    removeDevJson(dir);
    expect(() => readDevJson(dir)).toThrow(devJsonPath(dir));
  });
});

describe('dev waits for each part as long as it takes, showing progress', () => {
  it('prints progress while waiting and fails at once when the part is gone', async () => {
    const lines: string[] = [];
    let calls = 0;
    await waitUntil({
      what: 'the worker',
      probe: async () => ++calls > 4,
      print: (line) => lines.push(line),
      progressEveryMs: 300,
    });
    expect(lines.some((line) => line.includes('still waiting for the worker'))).toBe(true);
    await expect(
      waitUntil({
        what: 'the API',
        probe: async () => false,
        failed: () => 'exited with code 1',
        print: () => {},
      }),
    ).rejects.toThrow('the API: exited with code 1');
  });
});

describe('a worker process that dies is started again, not the whole setup stopped', () => {
  it('restarts after a back-off, says so, and stays stopped once stopped', async () => {
    const lines: string[] = [];
    const worker = new SupervisedProcess(
      'worker',
      ['-e', 'setTimeout(() => process.exit(3), 100)'],
      process.env,
      (line) => lines.push(line),
    );
    worker.start();
    await waitUntil({ what: 'a restart', probe: async () => worker.starts >= 2, print: () => {} });
    expect(lines[0]).toMatch(/The worker stopped \(exit code 3\); starting it again in 1 s/);
    await worker.stop();
    const starts = worker.starts;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.starts).toBe(starts);
  });
});
