import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Where each running `consent-hub dev` says which data dir it uses (one small file per process, removed
 * when it stops), so `consent-hub env` finds a setup started with `--data-dir` elsewhere or from another
 * folder. `CONSENT_HUB_DEV_REGISTRY` moves it (tests).
 */
const entrySchema = z.object({
  pid: z.number().int(),
  dataDir: z.string(),
  cwd: z.string(),
  startedAt: z.string(),
});
export type RunningDev = z.infer<typeof entrySchema>;

const registryDir = (env: NodeJS.ProcessEnv = process.env) =>
  env.CONSENT_HUB_DEV_REGISTRY ?? join(homedir(), '.cache', 'consent-hub', 'running-dev');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function registerRunningDev(dataDir: string, env: NodeJS.ProcessEnv = process.env): () => void {
  const dir = registryDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${process.pid}.json`);
  const entry: RunningDev = {
    pid: process.pid,
    dataDir,
    cwd: process.cwd(),
    startedAt: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  return () => rmSync(file, { force: true });
}

/** Every dev setup whose process is still alive; entries of processes that died are cleaned up. */
export function runningDevSetups(env: NodeJS.ProcessEnv = process.env): RunningDev[] {
  const dir = registryDir(env);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const found: RunningDev[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const entry = entrySchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      if (alive(entry.pid)) found.push(entry);
      else rmSync(file, { force: true });
    } catch {
      rmSync(file, { force: true });
    }
  }
  return found;
}

/**
 * The data dir of the dev setup a command should talk to: the one named (`--data-dir` or
 * CONSENT_HUB_DATA_DIR); else `.consent-hub` here, if a setup wrote its dev.json there; else the one running
 * dev setup (or the one started from this folder). Several and none of them from here: an error naming them.
 */
export function resolveDevDataDir(
  named: string | undefined,
  devJsonExists: (dataDir: string) => boolean,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (named) return named;
  if (devJsonExists('.consent-hub')) return '.consent-hub';
  const running = runningDevSetups(env);
  if (running.length === 1 && running[0]) return running[0].dataDir;
  const fromHere = running.filter((entry) => entry.cwd === process.cwd());
  if (fromHere.length === 1 && fromHere[0]) return fromHere[0].dataDir;
  if (running.length > 1) {
    throw new Error(
      `Several consent-hub dev setups are running; pick one with --data-dir: ${running.map((r) => r.dataDir).join(', ')}`,
    );
  }
  return '.consent-hub';
}
