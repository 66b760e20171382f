import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The last Temporal CLI release whose go.mod has no `replace`, so `go install` can build it. */
export const temporalCliVersion = 'v1.5.1';
const temporalCliModule = 'github.com/temporalio/cli/cmd/temporal';
const exeSuffix = process.platform === 'win32' ? '.exe' : '';
const binaryName = `temporal${exeSuffix}`;

/**
 * How long the SDK's download may take, metadata and archive (about 40 MB) together. A machine without
 * internet fails in milliseconds (no DNS); this bounds a network that swallows packets instead.
 */
export const defaultDownloadTimeoutMs = 180_000;

export type TemporalCliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'download' | 'go install';

export interface ProvidedTemporalCli {
  path: string;
  source: TemporalCliSource;
}

/** Fetches the CLI into `dir` and returns the executable's path; throws with a one-line reason. */
export type TemporalCliDownload = (
  dir: string,
  options: { env: NodeJS.ProcessEnv; timeoutMs: number },
) => Promise<string>;

export interface ProvideTemporalCliOptions {
  env?: NodeJS.ProcessEnv;
  /** One line per slow or failed step (a download or a build starting, a step failing and why). */
  onStep?: (message: string) => void;
  downloadTimeoutMs?: number;
  /** The SDK download step; replaced only by tests that need a download to succeed without internet. */
  download?: TemporalCliDownload;
}

export class TemporalCliUnavailable extends Error {
  override readonly name = 'TemporalCliUnavailable';
}

/** A regular file (after symlinks) that we may execute: X_OK alone also holds for a searchable directory. */
function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
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

/** Where `go install` puts the CLI it builds. */
export function cachedCliDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'consent-hub', 'temporal-cli', temporalCliVersion);
}

/** Where the SDK's download puts the CLI (the SDK names the file after itself and its version). */
export function downloadedCliDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), 'consent-hub', 'temporal-cli', 'sdk-download');
}

function findOnPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binaryName);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

const require = createRequire(import.meta.url);

function testingPackageJson(): string {
  try {
    return require.resolve('@temporalio/testing/package.json');
  } catch {
    throw new Error('@temporalio/testing (a dev dependency, it holds the download) is not installed');
  }
}

/** The file name the SDK's `cached-download` gives the CLI: temporal-sdk-typescript-<SDK version>. */
function sdkDownloadFileName(): string | undefined {
  try {
    const { version } = JSON.parse(readFileSync(testingPackageJson(), 'utf8')) as { version: string };
    return `temporal-sdk-typescript-${version}${exeSuffix}`;
  } catch {
    return undefined;
  }
}

// Runs in its own Node process so that a hung download can be killed along with anything it started.
const downloadScript = `
const [testingEntry, downloadDir] = process.argv.slice(1);
const testing = await import(testingEntry);
const { TestWorkflowEnvironment } = testing.TestWorkflowEnvironment ? testing : testing.default;
try {
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir }, log: { format: 'pretty', level: 'error' } },
  });
  await env.teardown();
} catch (error) {
  console.error();
  console.error(JSON.stringify({ downloadError: String(error?.message ?? error) }));
  process.exit(1);
}
`;

/**
 * The download @temporalio/testing does by default (`executable: { type: 'cached-download' }`): its native
 * core asks https://temporal.download/cli/default for the CLI release that matches this SDK version and
 * unpacks it into `dir`. The SDK only downloads on the way to starting a dev server, so this starts one
 * and stops it again (a second or two), in a child process group that is killed after `timeoutMs`.
 *
 * @returns the path of the downloaded executable.
 * @throws Error with a one-line reason: no @temporalio/testing, the SDK's own error (DNS, refused, HTTP
 *   status), or the timeout.
 */
export const sdkDownload: TemporalCliDownload = async (dir, { env, timeoutMs }) => {
  const fileName = sdkDownloadFileName();
  if (!fileName) throw new Error('cannot read the version of @temporalio/testing');
  const entry = pathToFileURL(require.resolve('@temporalio/testing')).href;
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, ['--input-type=module', '-e', downloadScript, entry, dir], {
    env,
    detached: process.platform !== 'win32',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8_000);
  });
  const killGroup = () => {
    try {
      if (child.pid && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', killGroup);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, timeoutMs);
  const code = await new Promise<number | null>((done) => {
    child.once('error', () => done(null));
    child.once('close', (exitCode) => done(exitCode));
  });
  clearTimeout(timer);
  process.removeListener('exit', killGroup);
  if (timedOut) throw new Error(`no answer within ${timeoutMs / 1000} s`);
  const path = join(dir, fileName);
  if (code === 0 && isExecutable(path)) return path;
  throw new Error(downloadFailureReason(stderr) ?? `the download process exited with code ${code}`);
};

/**
 * The SDK's error in one line. Its message nests the same request error twice, each with the full URL:
 * `Failed to start ephemeral server: failed to download ...: error sending request for url (<url>): ...
 * dns error: failed to lookup address information: Name or service not known`.
 */
export function downloadFailureReason(stderr: string): string | undefined {
  const reported = stderr
    .split('\n')
    .reverse()
    .map((line) => {
      try {
        return (JSON.parse(line) as { downloadError?: string }).downloadError;
      } catch {
        return undefined;
      }
    })
    .find((message) => message !== undefined);
  if (reported === undefined) {
    return stderr.trim().split('\n').at(-1)?.slice(0, 300) || undefined;
  }
  const url = /https?:\/\/[^\s)]+/.exec(reported)?.[0];
  const parts = reported
    .replace(/\s*\(https?:\/\/[^\s)]+\)/g, '')
    .split(': ')
    .filter((part, index, all) => part !== all[index - 1]);
  return `${parts.join(': ')}${url ? ` (${url.split('?')[0]})` : ''}`;
}

/**
 * Finds, downloads or builds the `temporal` CLI, in this order: TEMPORAL_CLI_PATH; a `temporal` on PATH;
 * the cache (a `go install` build keyed by version, or an earlier SDK download keyed by SDK version); the
 * SDK's own download (what @temporalio/testing does by default; bounded by `downloadTimeoutMs`); and
 * finally `go install` into the cache (about 4.5 minutes with an empty Go cache, 12 seconds with a warm one).
 *
 * @throws TemporalCliUnavailable when TEMPORAL_CLI_PATH is not executable, or when every step failed: one
 *   line per failed step, then one saying what to install.
 */
export async function provideTemporalCli(
  options: ProvideTemporalCliOptions = {},
): Promise<ProvidedTemporalCli> {
  const env = options.env ?? process.env;
  const step = options.onStep ?? (() => {});
  if (env.TEMPORAL_CLI_PATH) {
    if (isExecutable(env.TEMPORAL_CLI_PATH))
      return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
    throw new TemporalCliUnavailable(
      `TEMPORAL_CLI_PATH points to ${env.TEMPORAL_CLI_PATH}, which is not an executable file; fix or unset it.`,
    );
  }
  const onPath = findOnPath(env);
  if (onPath) return { path: onPath, source: 'PATH' };

  const built = join(cachedCliDir(env), binaryName);
  if (isExecutable(built)) return { path: built, source: 'cache' };
  const downloadDir = downloadedCliDir(env);
  const fileName = sdkDownloadFileName();
  const downloaded = fileName ? join(downloadDir, fileName) : undefined;
  if (downloaded && isExecutable(downloaded)) return { path: downloaded, source: 'cache' };

  const failed: string[] = [
    `TEMPORAL_CLI_PATH: not set.`,
    `PATH: no ${binaryName} in any of its directories.`,
    `cache: neither ${built} nor ${downloaded ?? join(downloadDir, 'temporal-sdk-typescript-<version>')} exists.`,
  ];
  const timeoutMs = options.downloadTimeoutMs ?? defaultDownloadTimeoutMs;
  step(
    `Temporal CLI: not in TEMPORAL_CLI_PATH, PATH or the cache; downloading it the way @temporalio/testing does, into ${downloadDir}...`,
  );
  try {
    const path = await (options.download ?? sdkDownload)(downloadDir, { env, timeoutMs });
    return { path, source: 'download' };
  } catch (error) {
    // Said now, not only in a final error: a Go build of minutes may follow.
    const line = `SDK download from temporal.download failed: ${(error as Error).message}`;
    failed.push(line);
    step(`Temporal CLI: ${line}`);
  }

  const go = spawnSync('go', ['version'], { env, encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    failed.push('go install: no `go` on PATH.');
    throw new TemporalCliUnavailable(
      `${failed.join('\n')}\nNo Temporal CLI found: install Go 1.22 or newer (to build ${temporalCliModule}@${temporalCliVersion}), allow the download from temporal.download, put a \`temporal\` binary on PATH, or set TEMPORAL_CLI_PATH.`,
    );
  }
  const cacheDir = cachedCliDir(env);
  mkdirSync(cacheDir, { recursive: true });
  step(
    `Temporal CLI: building ${temporalCliVersion} with go install into ${cacheDir} (about 4.5 minutes the first time, seconds with a warm Go cache)...`,
  );
  try {
    execFileSync('go', ['install', `${temporalCliModule}@${temporalCliVersion}`], {
      env: { ...env, GOBIN: cacheDir, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    failed.push(
      `go install ${temporalCliModule}@${temporalCliVersion} failed (${(error as Error).message}).`,
    );
    throw new TemporalCliUnavailable(
      `${failed.join('\n')}\nNo Temporal CLI found: install the Temporal CLI (https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH.`,
    );
  }
  if (!isExecutable(built)) {
    failed.push(`go install finished but ${built} is missing.`);
    throw new TemporalCliUnavailable(
      `${failed.join('\n')}\nNo Temporal CLI found: install the Temporal CLI (https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH.`,
    );
  }
  return { path: built, source: 'go install' };
}
