import { existsSync } from 'node:fs';
import { Command } from 'commander';

/** Single-quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const envCommand = new Command('env')
  .description('print export lines for the running dev setup: eval "$(npx consent-hub env)"')
  .option(
    '--data-dir <dir>',
    'the dev data directory (default: CONSENT_HUB_DATA_DIR, ./.consent-hub, or the running dev setup’s)',
  )
  .action(async (flags: { dataDir?: string }) => {
    // dev/ stays out of the production entry point's static imports (see the production-install test).
    const [{ devJsonPath, readDevJson }, { resolveDevDataDir }] = await Promise.all([
      import('../../dev/dev-json.js'),
      import('../../dev/dev-registry.js'),
    ]);
    const dataDir = resolveDevDataDir(flags.dataDir ?? process.env.CONSENT_HUB_DATA_DIR, (dir) =>
      existsSync(devJsonPath(dir)),
    );
    const devJson = readDevJson(dataDir);
    for (const [name, value] of Object.entries(devJson.env)) {
      process.stdout.write(`export ${name}=${shellQuote(value)}\n`);
    }
  });
