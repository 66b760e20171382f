import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { operatorIdSchema } from '../../domain/operator.js';
import { dueWithinSchema, type RequestListing, requestKinds } from '../../domain/request-deadline.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { UsageError } from '../usage-error.js';
import { cliActorId } from './actor-id.js';
import { requestIdArgument } from './request-id.js';

/** Loaded on use, so that `--help` and bad input never load the Temporal client. */
const hubDeadlines = () => import('../../hub-client/request-deadlines.js');

export const extendCommand = new Command('extend')
  .description(
    "extend a request's one-month deadline by 1 or 2 months, with the reason to tell the person (GDPR Art. 12(3): two months at most in all)",
  )
  .addArgument(requestIdArgument())
  .addOption(new Option('--months <n>', 'how many months: 1 or 2').choices(['1', '2']).makeOptionMandatory())
  .requiredOption('--reason <text>', 'why more time is needed (told to the person; kept in the request log)')
  .option('--operator <id>', 'who extends, recorded in the request log (default: cli:<login>)')
  .option('--json', 'print stable JSON')
  .action(
    async (
      requestId: string,
      flags: { months: string; reason: string; operator?: string },
      command: Command,
    ) => {
      const operator = operatorIdSchema.safeParse(flags.operator ?? cliActorId(userInfo().username));
      if (!operator.success) throw new UsageError(`--operator: ${operator.error.issues[0]?.message}`);
      if (!flags.reason.trim()) throw new UsageError('--reason: a reason is required to extend a deadline');
      await withHubClient(async (context, _config, ledger) => {
        const extended = await (await hubDeadlines()).extendRequestDeadline(context, ledger, requestId, {
          months: flags.months,
          reason: flags.reason,
          operator: operator.data,
        });
        if (wantsJson(command)) printJson(extended);
        else {
          print(
            `Extended the ${extended.kind} ${requestId} by ${flags.months} month(s): now due ${extended.deadline.dueAt} (received ${extended.deadline.receivedAt}, ${extended.deadline.extendedMonths} of 2 months of extension used).`,
          );
          print(
            `Recorded by ${extended.recorded.operator} at ${extended.recorded.at}; see consent-hub receipt ${requestId} --log`,
          );
        }
      });
    },
  );

export const requestsCommand = new Command('requests')
  .description(
    "list people's requests of every kind with when they were received and are due, soonest due first",
  )
  .option('--overdue', 'only open requests past their deadline')
  .option(
    '--due-within <window>',
    'only open requests due within this window (such as 7d, 48h, 2w), overdue ones too',
  )
  .addOption(new Option('--kind <kind>', 'only requests of this kind').choices([...requestKinds]))
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: { overdue?: boolean; dueWithin?: string; kind?: (typeof requestKinds)[number] },
      command: Command,
    ) => {
      let dueWithinMs: number | undefined;
      if (flags.dueWithin !== undefined) {
        const parsed = dueWithinSchema.safeParse(flags.dueWithin);
        if (!parsed.success) throw new UsageError(`--due-within: ${parsed.error.issues[0]?.message}`);
        dueWithinMs = parsed.data;
      }
      if (flags.overdue && dueWithinMs !== undefined)
        throw new UsageError('give --overdue or --due-within, not both');
      await withHubClient(async (context, _config, ledger) => {
        const listings = await (await hubDeadlines()).listRequests(context, ledger, {
          ...(flags.overdue ? { overdue: true } : {}),
          ...(dueWithinMs === undefined ? {} : { dueWithinMs }),
          ...(flags.kind ? { kind: flags.kind } : {}),
        });
        if (wantsJson(command)) printJson(listings);
        else printRequests(listings);
      });
    },
  );

function printRequests(listings: RequestListing[]): void {
  if (listings.length === 0) {
    print('No requests.');
    return;
  }
  for (const row of listings) {
    const extension = row.extendedMonths > 0 ? ` (extended ${row.extendedMonths} mo)` : '';
    print(
      `${row.overdue ? 'OVERDUE ' : ''}${row.kind.padEnd(13)} ${row.requestId}  ${row.state.padEnd(15)} received ${row.receivedAt}  due ${row.dueAt}${extension}  subject ${row.subjectKey}`,
    );
  }
}
