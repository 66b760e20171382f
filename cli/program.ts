import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { useInputMessages } from '../domain/input-messages.js';
import { accessCommand } from './commands/access-commands.js';
import { codecServerCommand } from './commands/codec-server-command.js';
import { configCommand } from './commands/config-command.js';
import { consentCommand, optOutCommand, statusCommand } from './commands/consent-commands.js';
import { consentImportCommand } from './commands/consent-import-command.js';
import { devCommand } from './commands/dev-command.js';
import { envCommand } from './commands/env-command.js';
import { eraseCommand, erasuresCommand, receiptCommand } from './commands/erasure-commands.js';
import { holdCommand, releaseCommand } from './commands/hold-commands.js';
import { historyCommand, receiptsCommand } from './commands/ledger-commands.js';
import { closeCommand, retryCommand } from './commands/operator-commands.js';
import { reconcileCommand, scheduleCommand } from './commands/reconcile-commands.js';
import { rectifyCommand } from './commands/rectify-command.js';
import { acknowledgeCommand, extendCommand, requestsCommand } from './commands/request-commands.js';
import { serveCommand } from './commands/serve-command.js';
import { temporalCliCommand } from './commands/temporal-cli-command.js';
import { workerCommand } from './commands/worker-command.js';
import { describeCliError, exitCodes, takeRequestedExitCode } from './exit-codes.js';

/** The package's version, from the nearest package.json above this file (source or compiled). */
export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    const version = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version
      : undefined;
    if (version) return version;
    if (dirname(dir) === dir) return 'unknown';
  }
}

useInputMessages();

const program = new Command('consent-hub')
  .description(
    'Carries erasures, opt-outs and consent changes to Dynamics 365, Mailchimp and Google Analytics.',
  )
  .version(packageVersion(), '-V, --version', 'print the version')
  // One --json for the whole program, so it is honoured wherever it is placed (`reconcile status --json`,
  // `--json erasures`); commands read it through optsWithGlobals().
  .option('--json', 'print stable JSON instead of text')
  .configureHelp({ showGlobalOptions: true })
  .addHelpText(
    'after',
    '\nExit codes: 0 done, 1 finished with failures, 2 bad input, 3 a system needs attention, 4 Temporal or the ledger cannot be reached.',
  )
  .showHelpAfterError()
  .exitOverride()
  .addCommand(devCommand)
  .addCommand(workerCommand)
  .addCommand(codecServerCommand)
  .addCommand(envCommand)
  .addCommand(temporalCliCommand)
  .addCommand(eraseCommand)
  .addCommand(accessCommand)
  .addCommand(receiptCommand)
  .addCommand(erasuresCommand)
  .addCommand(retryCommand)
  .addCommand(closeCommand)
  .addCommand(extendCommand)
  .addCommand(requestsCommand)
  .addCommand(acknowledgeCommand)
  .addCommand(historyCommand)
  .addCommand(receiptsCommand)
  .addCommand(optOutCommand)
  .addCommand(consentCommand)
  .addCommand(consentImportCommand)
  .addCommand(statusCommand)
  .addCommand(reconcileCommand)
  .addCommand(scheduleCommand)
  .addCommand(serveCommand)
  .addCommand(holdCommand)
  .addCommand(releaseCommand)
  .addCommand(rectifyCommand)
  .addCommand(configCommand);

// Commander's refusals (unknown option, missing argument) must end in our exit code 2, whichever command.
for (const command of walk(program)) command.exitOverride();

function* walk(command: Command): Generator<Command> {
  yield command;
  for (const sub of command.commands) yield* walk(sub);
}

/**
 * Runs one CLI invocation and answers its exit code (see cli/exit-codes.ts); errors are printed to stderr
 * as one line each. `argv` is the user's arguments, without `node` and the script.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  takeRequestedExitCode();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return takeRequestedExitCode();
  } catch (error) {
    takeRequestedExitCode();
    const { code, lines } = describeCliError(error);
    for (const line of lines) process.stderr.write(`${line}\n`);
    return code === exitCodes.done ? exitCodes.done : code;
  }
}
