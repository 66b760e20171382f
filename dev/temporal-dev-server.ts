import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../temporal/ensure-search-attributes.js';
import { searchAttributeArgs } from '../temporal/search-attributes.js';

export interface DevServerOptions {
  cli: string;
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
}

export interface RunningDevServer {
  address: string;
  ui: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with its UI and a database file that survives restarts, then waits
 * until it answers and has the project's search attributes.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  const address = `127.0.0.1:${options.port}`;
  const child = spawn(
    options.cli,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--ui-port',
      String(options.uiPort),
      '--db-filename',
      options.dbFile,
      '--namespace',
      options.namespace,
      '--log-level',
      'warn',
      ...searchAttributeArgs(),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      throw new Error(
        `The Temporal dev server exited at start (is port ${options.port} or ${options.uiPort} taken?): ${stderr.trim()}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await ensureSearchAttributes(connection, options.namespace);
      } finally {
        await connection.close();
      }
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(
          `The Temporal dev server did not answer on ${address} within 60 s: ${(error as Error).message}`,
        );
      }
      await delay(250);
    }
  }

  return {
    address,
    ui: `http://localhost:${options.uiPort}`,
    process: child,
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
