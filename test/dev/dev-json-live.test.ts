import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { devJsonPath, devJsonSchema } from '../../dev/dev-json.js';
import { LiveDevJson } from '../../dev/live-dev-json.js';
import { SupervisedProcess } from '../../dev/supervised-process.js';
import { waitUntil } from '../../dev/wait-until.js';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A worker stand-in of its own process: it answers /readyz 200 on `port` after `readyAfterMs` (a worker
 * bundles its workflows first), and exits with code 3 when `dieAfterMs` is given and it is the first start
 * (the marker file tells starts apart).
 */
const workerStandIn = (port: number, marker: string) => `
  const fs = require('node:fs');
  const first = !fs.existsSync(${JSON.stringify(marker)});
  fs.writeFileSync(${JSON.stringify(marker)}, 'x');
  setTimeout(() => {
    require('node:http').createServer((q, s) => { s.writeHead(200); s.end('{"ready":true}'); })
      .listen(${port}, '127.0.0.1');
  }, first ? 0 : 1500);
  if (first) setTimeout(() => process.exit(3), 600);
`;

const readDevJson = (dataDir: string) =>
  devJsonSchema.parse(JSON.parse(readFileSync(devJsonPath(dataDir), 'utf8')));

describe('dev.json follows the worker through a restart', () => {
  let worker: SupervisedProcess | undefined;
  afterEach(async () => {
    await worker?.stop(2000);
  });

  it('says ready false naming the worker while its process is down, and ready true once the new one answers', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-live-devjson-'));
    const port = await freePort();
    worker = new SupervisedProcess(
      'worker',
      ['-e', workerStandIn(port, join(dataDir, 'started-once'))],
      process.env,
      () => {},
    );
    worker.start();
    const readyUrl = `http://127.0.0.1:${port}/readyz`;
    const live = new LiveDevJson(dataDir, {
      temporal: { address: 'a', namespace: 'n', taskQueue: 'q', ui: 'u', cli: 'c' },
      caFile: 'ca',
      env: {},
      sandboxes: {},
      metrics: { worker: `http://127.0.0.1:${port}`, api: 'http://127.0.0.1:1' },
    });
    live.track('worker', worker, readyUrl, 50);
    await waitUntil({
      what: 'the first worker',
      probe: async () => (await fetch(readyUrl)).ok,
      print: () => {},
    });
    live.write();
    expect(readDevJson(dataDir)).toMatchObject({ ready: true });
    expect(readDevJson(dataDir).notReady).toBeUndefined();

    // The first process exits; the file must not say ready during the 1 s back-off and the restart.
    await waitUntil({
      what: 'dev.json to say not ready',
      probe: async () => {
        return readDevJson(dataDir).ready === false;
      },
      print: () => {},
    });
    expect(readDevJson(dataDir).notReady).toEqual(['worker']);
    expect(worker.running).toBe(false);

    // While the restarted process has not answered yet, it stays not ready; then it is ready again.
    await waitUntil({ what: 'the restart', probe: async () => worker?.starts === 2, print: () => {} });
    expect(readDevJson(dataDir).ready).toBe(false);
    await waitUntil({
      what: 'dev.json to say ready again',
      probe: async () => readDevJson(dataDir).ready === true,
      print: () => {},
    });
    expect(readDevJson(dataDir).notReady).toBeUndefined();
    expect((await fetch(readyUrl)).ok).toBe(true);

    // Once dev stops and closes it, a dying worker changes nothing any more.
    live.close();
    const before = readFileSync(devJsonPath(dataDir), 'utf8');
    await worker.stop(2000);
    expect(readFileSync(devJsonPath(dataDir), 'utf8')).toBe(before);
  });

  it('says ready false naming temporal, for good, once the Temporal dev server exits under a running dev', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-live-devjson-'));
    // The server stand-in: a process that runs until it is killed, as `temporal server start-dev` does.
    const server = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const live = new LiveDevJson(dataDir, {
      temporal: { address: 'a', namespace: 'n', taskQueue: 'q', ui: 'u', cli: 'c' },
      caFile: 'ca',
      env: {},
      sandboxes: {},
    });
    const losses: string[] = [];
    live.trackLoss('temporal', server, (how) => losses.push(how));
    live.write();
    expect(readDevJson(dataDir)).toMatchObject({ ready: true });

    server.kill('SIGKILL');
    await waitUntil({
      what: 'dev.json to say not ready',
      probe: async () => readDevJson(dataDir).ready === false,
      print: () => {},
    });
    expect(readDevJson(dataDir).notReady).toEqual(['temporal']);
    expect(losses).toEqual(['killed by SIGKILL']);
    live.close();
  });
});
