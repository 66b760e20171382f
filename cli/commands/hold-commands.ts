import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { holdReasonCodes, releaseReasonCodes } from '../../domain/hold.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { cliActorId } from './actor-id.js';

/** Loaded on use, so that `--help` and bad input never load the Temporal client. */
const hubHolds = () => import('../../hub-client/holds.js');

export const holdCommand = new Command('hold')
  .description(
    'put a person on legal hold (GDPR Art. 17(3), Art. 18): their erasure restricts instead of deleting until `release`',
  )
  .requiredOption('--email <email>', "the person's email address")
  .addOption(
    new Option('--reason <code>', 'why the data must be kept')
      .choices([...holdReasonCodes])
      .makeOptionMandatory(),
  )
  .option('--operator <id>', 'who places the hold (an id, no spaces); default cli:<login>')
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string; reason: string; operator?: string }, command: Command) => {
    const json = wantsJson(command);
    const { placeHold } = await hubHolds();
    const result = await withLedger((ledger) =>
      withHubClient((context) =>
        placeHold(context, ledger, {
          email: flags.email,
          reason: flags.reason as (typeof holdReasonCodes)[number],
          placedBy: flags.operator ?? cliActorId(userInfo().username),
        }),
      ),
    );
    if (json) {
      printJson(result);
      return;
    }
    if (result.requestedUnder?.notFollowed)
      print(
        `Re-key ${result.requestedUnder.notFollowed.from} -> ${result.requestedUnder.notFollowed.to} not followed: that subject has records of its own since`,
      );
    if (result.requestedUnder && result.requestedUnder.rekeys.length > 0)
      print(
        `Asked under an earlier address (subject ${result.requestedUnder.subjectKey}), re-keyed since: the person is held under the key they have now`,
      );
    print(
      result.placed
        ? `On hold: subject ${result.subjectKey} (${result.hold.reason}, since ${result.hold.placedAt})`
        : `Already on hold: subject ${result.subjectKey} (${result.hold.reason}, since ${result.hold.placedAt} by ${result.hold.placedBy}); kept as it was`,
    );
    print(
      '  an erasure for this person now restricts their data and deletes it only after: consent-hub release',
    );
    if (result.erasureRunning) {
      print(
        '  an erasure of this person was running: it stops deleting, restricts what it had not erased yet, and erases it after the release (its receipt says what was deleted before the hold); if its deletes had all completed, nothing is left to restrict and its receipt says the hold came after them (holdAfterDeletes)',
      );
    }
  });

export const releaseCommand = new Command('release')
  .description("release a person's legal hold; a restricted erasure then deletes their data")
  .requiredOption('--email <email>', "the person's email address")
  .addOption(
    new Option('--reason <code>', 'why the hold ends').choices([...releaseReasonCodes]).default('resolved'),
  )
  .option('--operator <id>', 'who releases it (an id, no spaces); default cli:<login>')
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string; reason: string; operator?: string }, command: Command) => {
    const json = wantsJson(command);
    const { releaseHold } = await hubHolds();
    const result = await withLedger((ledger) =>
      withHubClient((context) =>
        releaseHold(context, ledger, {
          email: flags.email,
          reason: flags.reason as (typeof releaseReasonCodes)[number],
          releasedBy: flags.operator ?? cliActorId(userInfo().username),
        }),
      ),
    );
    if (json) {
      printJson(result);
      return;
    }
    if (result.requestedUnder?.notFollowed)
      print(
        `Re-key ${result.requestedUnder.notFollowed.from} -> ${result.requestedUnder.notFollowed.to} not followed: that subject has records of its own since`,
      );
    if (result.requestedUnder && result.requestedUnder.rekeys.length > 0)
      print(
        `Asked under an earlier address (subject ${result.requestedUnder.subjectKey}), re-keyed since: the hold is released under the key the person has now`,
      );
    print(
      `Released: subject ${result.subjectKey} (${result.hold.releaseReason}, at ${result.hold.releasedAt})`,
    );
    if (result.erasureSignalled)
      print('  the waiting erasure now deletes the restricted data; follow it with: consent-hub erasures');
  });
