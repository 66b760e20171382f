import { Command, CommanderError } from 'commander';
import { ZodError } from 'zod';
import { ConfigError } from '../config/parse-env.js';
import { LedgerUnavailable } from '../ledger/ledger-unavailable.js';
import { TemporalCliUnavailable } from '../temporal/temporal-cli.js';
import { consentCommand, optOutCommand, statusCommand } from './commands/consent-commands.js';
import { devCommand } from './commands/dev-command.js';
import { envCommand } from './commands/env-command.js';
import {
  closeCommand,
  eraseCommand,
  erasuresCommand,
  receiptCommand,
  retryCommand,
} from './commands/erasure-commands.js';
import { historyCommand, receiptsCommand } from './commands/ledger-commands.js';
import { reconcileCommand, scheduleCommand } from './commands/reconcile-commands.js';
import { serveCommand } from './commands/serve-command.js';
import { temporalCliCommand } from './commands/temporal-cli-command.js';
import { workerCommand } from './commands/worker-command.js';
import { UsageError } from './usage-error.js';

const program = new Command('consent-hub')
  .description(
    'Carries erasures, opt-outs and consent changes to Dynamics 365, Mailchimp and Google Analytics.',
  )
  .showHelpAfterError()
  .exitOverride()
  .addCommand(devCommand)
  .addCommand(workerCommand)
  .addCommand(envCommand)
  .addCommand(temporalCliCommand)
  .addCommand(eraseCommand)
  .addCommand(receiptCommand)
  .addCommand(erasuresCommand)
  .addCommand(retryCommand)
  .addCommand(closeCommand)
  .addCommand(historyCommand)
  .addCommand(receiptsCommand)
  .addCommand(optOutCommand)
  .addCommand(consentCommand)
  .addCommand(statusCommand)
  .addCommand(reconcileCommand)
  .addCommand(scheduleCommand)
  .addCommand(serveCommand);

// `consent-hub receipts | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportCliError(error);
}

/** One clear line (or one per problem) on stderr, and a non-zero exit code; never a stack trace for bad input. */
function reportCliError(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (
    error instanceof ConfigError ||
    error instanceof UsageError ||
    error instanceof TemporalCliUnavailable ||
    error instanceof LedgerUnavailable
  ) {
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (error instanceof ZodError) {
    for (const issue of error.issues)
      process.stderr.write(`${issue.path.join('.') || 'input'}: ${issue.message}\n`);
    return 2;
  }
  // Temporal wraps a rejected update or a failed call; the cause carries the words meant for people.
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}${cause}\n`);
  return 1;
}
