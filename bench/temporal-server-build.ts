import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userCacheDir } from '../temporal/temporal-cli.js';

/**
 * The Temporal server the production topology runs: docker-compose.yml's `temporalio/auto-setup:1.29.1`,
 * which is also the server inside the cached CLI v1.5.1 (`temporal --version` reports Server 1.29.1).
 * Its go.mod has no `replace`, so `go install` builds it from the Go module proxy.
 */
export const temporalServerVersion = 'v1.29.1';
const serverModule = 'go.temporal.io/server';
/** The server binary and its SQL schema tool (`temporal-sql-tool` in Temporal's images), as Go names them. */
const packages = { server: 'cmd/server', sqlTool: 'cmd/tools/sql' } as const;

export interface TemporalServerBinaries {
  /** The server (`temporal-server` in Temporal's images). */
  server: string;
  /** The schema tool (`temporal-sql-tool`); it carries the PostgreSQL schemas embedded (`--schema-name`). */
  sqlTool: string;
  /** Seconds the `go install` took, when this call built them. */
  builtSeconds?: number;
}

/** Where `go install` puts the server and its schema tool: ~/.cache/consent-hub/temporal-server/<version>/. */
export function cachedServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'consent-hub', 'temporal-server', temporalServerVersion);
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `go install` arguments that build both binaries at the pinned version (one module, one build). */
export function goInstallArgs(): string[] {
  return ['install', ...Object.values(packages).map((p) => `${serverModule}/${p}@${temporalServerVersion}`)];
}

/**
 * The cached server and schema tool, built first with `nice -n 19 go install` when missing (they share
 * the machine with everything else; measured here: see README "Against a Temporal server on PostgreSQL").
 * Go names the binaries after their package folders: `server` and `sql`.
 *
 * @throws Error with the last lines of Go's output when `go` is missing or the build fails (a module the
 *   proxy does not serve, a compile error), naming module and version.
 */
export async function provideTemporalServer(
  options: { env?: NodeJS.ProcessEnv; onStep?: (line: string) => void } = {},
): Promise<TemporalServerBinaries> {
  const env = options.env ?? process.env;
  const dir = cachedServerDir(env);
  const binaries = { server: join(dir, 'server'), sqlTool: join(dir, 'sql') };
  if (isExecutable(binaries.server) && isExecutable(binaries.sqlTool)) return binaries;

  mkdirSync(dir, { recursive: true });
  options.onStep?.(
    `Temporal server ${temporalServerVersion}: not in ${dir}; building it with go install (minutes with an empty Go cache)...`,
  );
  const started = performance.now();
  const child = spawn('nice', ['-n', '19', 'go', ...goInstallArgs()], {
    env: { ...env, GOBIN: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((done) => {
    child.once('error', (error) => {
      output += String(error.message);
      done(null);
    });
    child.once('close', done);
  });
  const builtSeconds = (performance.now() - started) / 1000;
  if (code !== 0 || !isExecutable(binaries.server) || !isExecutable(binaries.sqlTool)) {
    throw new Error(
      `go install of ${serverModule}@${temporalServerVersion} failed (exit ${code}): ${output.trim().split('\n').slice(-8).join(' | ')}`,
    );
  }
  options.onStep?.(`Temporal server ${temporalServerVersion}: built in ${Math.round(builtSeconds)} s`);
  return { ...binaries, builtSeconds };
}
