import { Command } from 'commander';

/** Single-quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const envCommand = new Command('env')
  .description('print export lines for the running dev setup: eval "$(npx consent-hub env)"')
  .option('--data-dir <dir>', 'the dev data directory', process.env.CONSENT_HUB_DATA_DIR ?? '.consent-hub')
  .action(async (flags: { dataDir: string }) => {
    // dev/ stays out of the production entry point's static imports (see the production-install test).
    const { readDevJson } = await import('../../dev/dev-json.js');
    const devJson = readDevJson(flags.dataDir);
    for (const [name, value] of Object.entries(devJson.env)) {
      process.stdout.write(`export ${name}=${shellQuote(value)}\n`);
    }
  });
