import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { operatorIdSchema } from '../../domain/operator.js';
import { systemNames } from '../../domain/systems.js';
import type { OperatorActionResult } from '../../hub-client/requests.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { UsageError } from '../usage-error.js';
import { cliActorId } from './actor-id.js';
import { requestIdArgument } from './request-id.js';

const systemOption = () =>
  new Option('--system <name>', 'the system to act on').choices([...systemNames]).makeOptionMandatory();

const operatorOption = () =>
  new Option('--operator <id>', 'who acts, recorded with the time in the request log (default: cli:<login>)');

function operatorOf(flag: string | undefined): string {
  const parsed = operatorIdSchema.safeParse(flag ?? cliActorId(userInfo().username));
  if (!parsed.success) throw new UsageError(`--operator: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function report(result: OperatorActionResult, json: boolean, done: string): void {
  if (json) printJson(result);
  else {
    print(
      `${done} (${result.kind} ${result.requestId}), by ${result.recorded.operator} at ${result.recorded.at}.`,
    );
    print(`Follow it with: consent-hub receipt ${result.requestId} --log`);
  }
}

export const retryCommand = new Command('retry')
  .description(
    'retry a system that needs attention, after fixing its cause (any request: erasure, consent change)',
  )
  .addArgument(requestIdArgument())
  .addOption(systemOption())
  .addOption(operatorOption())
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, flags: { system: string; operator?: string }, command: Command) => {
    const operator = operatorOf(flags.operator);
    await withLedger((ledger) =>
      withHubClient(async (context) => {
        const { actOnRequest } = await import('../../hub-client/requests.js');
        const result = await actOnRequest(context, ledger, requestId, {
          action: 'retry',
          system: flags.system as (typeof systemNames)[number],
          operator,
        });
        report(result, wantsJson(command), `Retrying ${flags.system}`);
      }),
    );
  });

export const closeCommand = new Command('close')
  .description(
    'give up on a system that needs attention, with a reason recorded in the receipt (any request: erasure, consent change)',
  )
  .addArgument(requestIdArgument())
  .addOption(systemOption())
  .requiredOption('--reason <text>', 'why the system is closed without being done')
  .addOption(operatorOption())
  .option('--json', 'print stable JSON')
  .action(
    async (
      requestId: string,
      flags: { system: string; reason: string; operator?: string },
      command: Command,
    ) => {
      const operator = operatorOf(flags.operator);
      if (!flags.reason.trim()) throw new UsageError('--reason: a reason is required to close a system');
      await withLedger((ledger) =>
        withHubClient(async (context) => {
          const { actOnRequest } = await import('../../hub-client/requests.js');
          const result = await actOnRequest(context, ledger, requestId, {
            action: 'close',
            system: flags.system as (typeof systemNames)[number],
            reason: flags.reason,
            operator,
          });
          report(result, wantsJson(command), `Closed ${flags.system}`);
        }),
      );
    },
  );
