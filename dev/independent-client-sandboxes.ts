import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalTls } from '../sandboxes/framework/local-ca.js';
import { sandboxLaunchers } from './sandbox-kits.js';
import type { LaunchedSandbox } from './sandbox-launcher.js';

/**
 * Starts every vendor sandbox on a free port with fresh dev credentials and the demo seed, for clients the
 * project does not otherwise use (sandboxes/independent-clients/). Prints one JSON line on stdout:
 * `{"caFile": "<PEM path>", "sandboxes": {"<vendor>": {"url": "https://localhost:<port>", "env": {...}}}}`,
 * where `env` holds the connector's variables (MAILCHIMP_API_KEY, GOOGLE_APPLICATION_CREDENTIALS, ...).
 * Runs until stdin closes or SIGTERM/SIGINT, then stops the sandboxes and removes its data directory.
 * Dev only: run with `node --import tsx dev/independent-client-sandboxes.ts`.
 */
async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'consent-hub-independent-clients-'));
  const tls = ensureLocalTls(dataDir);
  const running: LaunchedSandbox[] = [];
  for (const launcher of sandboxLaunchers) running.push(await launcher.launch(dataDir, tls, 0));
  process.stdout.write(
    `${JSON.stringify({
      caFile: tls.caFile,
      sandboxes: Object.fromEntries(running.map((s) => [s.vendor, { url: s.url, env: s.env }])),
    })}\n`,
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(running.map((s) => s.close()));
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
