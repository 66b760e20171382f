import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The last Temporal CLI release whose go.mod has no `replace`, so `go install` can build it. */
export const temporalCliVersion = 'v1.5.1';
const temporalCliModule = 'github.com/temporalio/cli/cmd/temporal';
const binaryName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install';

export interface ProvidedTemporalCli {
  path: string;
  source: TemporalCliSource;
}

export class TemporalCliUnavailable extends Error {
  override readonly name = 'TemporalCliUnavailable';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The user's cache directory, by platform convention. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return env.XDG_CACHE_HOME;
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches');
  if (process.platform === 'win32' && env.LOCALAPPDATA) return env.LOCALAPPDATA;
  return join(homedir(), '.cache');
}

export function cachedCliDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'consent-hub', 'temporal-cli', temporalCliVersion);
}

function findOnPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binaryName);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds or builds the `temporal` CLI, in this order: TEMPORAL_CLI_PATH, a `temporal` on PATH, a cached build
 * keyed by version, and finally `go install` into that cache (about 4.5 minutes with an empty Go cache, 12
 * seconds with a warm one). No package ships the CLI, and @temporalio/testing would otherwise download it.
 */
export function provideTemporalCli(
  options: { env?: NodeJS.ProcessEnv; onBuild?: (message: string) => void } = {},
): ProvidedTemporalCli {
  const env = options.env ?? process.env;
  if (env.TEMPORAL_CLI_PATH) {
    if (isExecutable(env.TEMPORAL_CLI_PATH))
      return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
    throw new TemporalCliUnavailable(
      `TEMPORAL_CLI_PATH points to ${env.TEMPORAL_CLI_PATH}, which is not an executable file; fix or unset it.`,
    );
  }
  const onPath = findOnPath(env);
  if (onPath) return { path: onPath, source: 'PATH' };

  const cacheDir = cachedCliDir(env);
  const cached = join(cacheDir, binaryName);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };

  const go = spawnSync('go', ['version'], { env, encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new TemporalCliUnavailable(
      `No Temporal CLI found: install Go 1.22 or newer (to build ${temporalCliModule}@${temporalCliVersion}), put a \`temporal\` binary on PATH, or set TEMPORAL_CLI_PATH.`,
    );
  }
  mkdirSync(cacheDir, { recursive: true });
  options.onBuild?.(
    `Building the Temporal CLI ${temporalCliVersion} with go install into ${cacheDir} (about 4.5 minutes the first time, seconds with a warm Go cache)...`,
  );
  try {
    execFileSync('go', ['install', `${temporalCliModule}@${temporalCliVersion}`], {
      env: { ...env, GOBIN: cacheDir, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    throw new TemporalCliUnavailable(
      `go install ${temporalCliModule}@${temporalCliVersion} failed (${(error as Error).message}); install the Temporal CLI yourself and set TEMPORAL_CLI_PATH.`,
    );
  }
  if (!isExecutable(cached)) {
    throw new TemporalCliUnavailable(
      `go install finished but ${cached} is missing; set TEMPORAL_CLI_PATH instead.`,
    );
  }
  return { path: cached, source: 'go install' };
}
