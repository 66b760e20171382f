import { userInfo } from 'node:os';
import { Command } from 'commander';
import { rectifiableFields } from '../../domain/rectification.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
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
  .option('--wait', 'wait for the receipt (exit 1 if a system failed or was closed)')
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: {
        email: string;
        set: Record<string, string>;
        requestedBy?: string;
        receivedAt?: string;
        wait?: boolean;
      },
      command: Command,
    ) => {
      const json = wantsJson(command);
      const { requestRectification, awaitRectification } = await hubRectifications();
      await withLedger((ledger) =>
        withHubClient(async (context) => {
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
                dueAt: started.dueAt,
              });
            else {
              print(
                `Rectification requested: ${started.requestId} (subject key ${started.subjectKey}, due ${started.dueAt})`,
              );
              if (started.newSubjectKey) print(`  the person's new subject key: ${started.newSubjectKey}`);
            }
            return;
          }
          const receipt = await awaitRectification(context, started);
          if (json) printJson(receipt);
          else {
            print(`Rectification receipt ${receipt.requestId}  outcome: ${receipt.outcome}`);
            print(`  fields       ${receipt.fields.join(', ')}`);
            for (const [system, state] of Object.entries(receipt.systems)) {
              const changed = state.records.map(
                (r) =>
                  `${r.kind} ${r.id}: ${r.result}${r.changed.length ? ` (${r.changed.map((c) => c.field).join(', ')})` : ''}`,
              );
              print(
                `  ${system.padEnd(10)} ${state.status.padEnd(19)} ${state.note ?? state.failure?.reason ?? changed.join('; ')}`,
              );
            }
            if (receipt.rekeyed) print(`  re-keyed     ${receipt.rekeyed.from} → ${receipt.rekeyed.to}`);
            if (receipt.rekeyNote) print(`  not re-keyed ${receipt.rekeyNote}`);
          }
          if (receipt.outcome !== 'completed') requestExitCode(exitCodes.finishedWithFailures);
        }),
      );
    },
  );
