import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { operatorIdSchema } from '../../domain/operator.js';
import { dueWithinSchema, type RequestListing, requestKinds } from '../../domain/request-deadline.js';
import {
  acknowledgeAddressChangeRefusal,
  addressChangeRefusalLine,
  addressChangeResolutions,
  listOpenAddressChangeRefusals,
  type OperatorAddressChangeResolution,
} from '../../hub-client/address-change-refusals.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
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
  .option(
    '--needs-attention',
    "only what waits for an operator outside a running workflow: vendors' address changes the hub refused (Mailchimp has the new address, Dynamics and the hub the old), until acknowledged",
  )
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: {
        overdue?: boolean;
        dueWithin?: string;
        kind?: (typeof requestKinds)[number];
        needsAttention?: boolean;
      },
      command: Command,
    ) => {
      if (flags.needsAttention) {
        if (flags.overdue || flags.dueWithin !== undefined || flags.kind)
          throw new UsageError('give --needs-attention alone');
        await withLedger(async (ledger) => {
          const refusals = await listOpenAddressChangeRefusals(ledger);
          if (wantsJson(command)) printJson({ addressChangeRefusals: refusals });
          else if (refusals.length === 0) print('Nothing needs attention.');
          else {
            print(
              `Refused address changes (${refusals.length}); acknowledge each with consent-hub acknowledge <id> --resolution <code>`,
            );
            for (const refusal of refusals) print(`  ${addressChangeRefusalLine(refusal)}`);
          }
        });
        return;
      }
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

export const acknowledgeCommand = new Command('acknowledge')
  .description(
    "acknowledge a vendor's address change the hub refused (listed by requests --needs-attention), with how it was resolved; it stays in the person's history",
  )
  .argument('<id>', 'the refused address change, as requests --needs-attention lists it')
  .addOption(
    new Option('--resolution <code>', 'how the disagreement was resolved')
      .choices([...addressChangeResolutions])
      .makeOptionMandatory(),
  )
  .option('--operator <id>', 'who acknowledges, recorded with the time (default: cli:<login>)')
  .option('--json', 'print stable JSON')
  .action(
    async (
      id: string,
      flags: { resolution: OperatorAddressChangeResolution; operator?: string },
      command: Command,
    ) => {
      const operator = operatorIdSchema.safeParse(flags.operator ?? cliActorId(userInfo().username));
      if (!operator.success) throw new UsageError(`--operator: ${operator.error.issues[0]?.message}`);
      await withLedger(async (ledger) => {
        const resolved = await acknowledgeAddressChangeRefusal(ledger, id, {
          resolution: flags.resolution,
          operator: operator.data,
        });
        if (wantsJson(command)) printJson(resolved);
        else print(`Acknowledged: ${addressChangeRefusalLine(resolved)}`);
      });
    },
  );
