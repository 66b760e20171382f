import { Command } from 'commander';
import { provideTemporalCli } from '../../temporal/temporal-cli.js';

export const temporalCliCommand = new Command('temporal-cli')
  .description('find, download or build the Temporal CLI, and print its path')
  .action(async () => {
    const cli = await provideTemporalCli({ onStep: (message) => process.stderr.write(`${message}\n`) });
    process.stderr.write(`Temporal CLI from ${cli.source}\n`);
    process.stdout.write(`${cli.path}\n`);
  });
