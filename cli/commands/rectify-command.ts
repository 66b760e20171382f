import { userInfo } from 'node:os';
import { Command } from 'commander';
import { callerRequestedBySchema, rectifiableFields } from '../../domain/rectification.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { followRequest } from '../follow-request.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { printRectificationReceipt, printRectificationStatus } from '../rectification-output.js';
import { UsageError } from '../usage-error.js';
import { cliActorId } from './actor-id.js';

const hubRectifications = () => import('../../hub-client/rectifications.js');

/** `--set field=value`, repeatable, into one object; an unknown field or a missing `=` is bad input. */
function collectSet(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  const field = at > 0 ? value.slice(0, at).trim() : '';
  if (!(rectifiableFields as readonly string[]).includes(field)) {
    throw new UsageError(`--set takes field=value with field one of: ${rectifiableFields.join(', ')}`);
  }
  return { ...previous, [field]: value.slice(at + 1) };
}

export const rectifyCommand = new Command('rectify')
  .description("correct a person's data in every system (GDPR Art. 16); an email change re-keys the person")
  .requiredOption('--email <email>', "the person's current email address")
  .requiredOption(
    '--set <field=value>',
    `a field to set (${rectifiableFields.join(', ')}); repeatable`,
    collectSet,
  )
  .option('--requested-by <id>', 'the operator, ticket or channel (an id, no spaces)')
  .option('--received-at <time>', 'when the request arrived (ISO 8601), for requests entered later')
  .option(
    '--wait',
    'follow it per system until the receipt (exit 1 if a system failed or was closed) or until a system needs attention (exit 3)',
  )
  .option('--wait-through-attention', 'with --wait: keep waiting while a system needs attention')
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: {
        email: string;
        set: Record<string, string>;
        requestedBy?: string;
        receivedAt?: string;
        wait?: boolean;
        waitThroughAttention?: boolean;
      },
      command: Command,
    ) => {
      const json = wantsJson(command);
      // The webhook's own requester changes how Mailchimp members are matched, so no operator may pose as it.
      const requestedBy =
        flags.requestedBy === undefined ? undefined : callerRequestedBySchema.safeParse(flags.requestedBy);
      if (requestedBy && !requestedBy.success)
        throw new UsageError(`--requested-by ${requestedBy.error.issues[0]?.message ?? 'is not valid'}`);
      const { requestRectification, rectificationHandle, rectificationLiveStatus } =
        await hubRectifications();
      await withHubClient(async (context, _config, ledger) => {
        const started = await requestRectification(
          context,
          {
            email: flags.email,
            set: flags.set,
            requestedBy: flags.requestedBy ?? cliActorId(userInfo().username),
            requestedAt: new Date().toISOString(),
            ...(flags.receivedAt ? { receivedAt: flags.receivedAt } : {}),
          },
          { ledger },
        );
        if (!flags.wait) {
          if (json)
            printJson({
              requestId: started.requestId,
              subjectKey: started.subjectKey,
              receivedAt: started.receivedAt,
              dueAt: started.dueAt,
            });
          else {
            print(
              `Rectification requested: ${started.requestId} (subject key ${started.subjectKey}, due ${started.dueAt})`,
            );
            if (started.newSubjectKey) print(`  the person's new subject key: ${started.newSubjectKey}`);
            print(`  follow it with: consent-hub receipt ${started.requestId}`);
          }
          return;
        }
        // The id first, at once: whatever happens next, the operator can find the request again.
        if (json) process.stderr.write(`Rectification requested: ${started.requestId}\n`);
        else print(`Rectification requested: ${started.requestId} (subject key ${started.subjectKey})`);
        const handle = rectificationHandle(context, started);
        await followRequest({
          result: handle.result(),
          liveStatus: () => rectificationLiveStatus(context, handle),
          json,
          waitThroughAttention: Boolean(flags.waitThroughAttention),
          printStatus: printRectificationStatus,
          deadline: { receivedAt: started.receivedAt, dueAt: started.dueAt },
          finish: (receipt) => {
            if (json) printJson(receipt);
            else {
              print('');
              printRectificationReceipt(receipt);
            }
            if (receipt.outcome !== 'completed') requestExitCode(exitCodes.finishedWithFailures);
          },
        });
      });
    },
  );
