import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { erasureReasonCodes } from '../../domain/erasure.js';
import { systemNames } from '../../domain/systems.js';
import {
  awaitReceipt,
  closeErasureSystem,
  listErasures,
  lookupErasure,
  requestErasure,
  retryErasureSystem,
} from '../../hub-client/erasures.js';
import { requestIdSchema } from '../../hub-client/find-by-request-id.js';
import { printListing, printReceipt, printStatus } from '../erasure-output.js';
import { print, printJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';

/** `cli:<login>`, with anything an actor id cannot hold (spaces, say) replaced. */
function cliActorId(username: string): string {
  return `cli:${username.replace(/[^A-Za-z0-9._:#/+=-]/g, '-') || 'unknown'}`;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const eraseCommand = new Command('erase')
  .description('erase a person from every system; prints the request id, or the receipt with --wait')
  .requiredOption('--email <email>', "the person's email address")
  .option('--ga-client-id <id>', 'a Google Analytics client id (repeatable)', collect, [])
  .option('--ga-user-id <id>', 'a Google Analytics user id')
  .option(
    '--reason <code>',
    `why the person is erased: ${erasureReasonCodes.join(', ')} (other text is kept as "other" with the text as its note)`,
    'subject_request',
  )
  .option('--reason-note <text>', 'anything more about the reason (addresses and the person are scrubbed)')
  .option(
    '--requested-by <id>',
    'the operator, ticket or channel the request came through (an id, no spaces)',
  )
  .option('--wait', 'wait for the receipt; exit code 1 if a system failed')
  .option('--json', 'print stable JSON')
  .action(async (flags) => {
    await withHubClient(async (context) => {
      // Validated (and the email normalised) before anything is started.
      const started = await requestErasure(context, {
        email: flags.email,
        gaClientIds: flags.gaClientId,
        gaUserIds: flags.gaUserId ? [flags.gaUserId] : [],
        reason: flags.reason,
        reasonNote: flags.reasonNote,
        requestedBy: flags.requestedBy ?? cliActorId(userInfo().username),
        requestedAt: new Date().toISOString(),
      });
      if (!flags.wait) {
        if (flags.json) printJson({ requestId: started.requestId, subjectKey: started.subjectKey });
        else {
          print(`Erasure requested: ${started.requestId}`);
          print(`  subject key ${started.subjectKey}  (workflow ${started.workflowId})`);
          print(`  follow it with: consent-hub receipt ${started.requestId}`);
        }
        return;
      }
      const receipt = await awaitReceipt(context, started);
      if (flags.json) printJson(receipt);
      else printReceipt(receipt);
      if (receipt.outcome !== 'completed') process.exitCode = 1;
    });
  });

export const receiptCommand = new Command('receipt')
  .description("show an erasure's receipt, or its live status while it runs")
  .argument('<request-id>', 'the request id that `erase` printed')
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, flags: { json?: boolean }) => {
    const id = requestIdSchema.parse(requestId);
    // The ledger holds every finished erasure's receipt, long after Temporal's retention has dropped it.
    const stored = await withLedger((ledger) => ledger.getReceipt(id));
    if (stored) {
      if (flags.json) printJson(stored);
      else printReceipt(stored);
      return;
    }
    await withHubClient(async (context) => {
      const found = await lookupErasure(context, requestId);
      if (flags.json) printJson(found.state === 'completed' ? found.receipt : found.status);
      else if (found.state === 'completed') printReceipt(found.receipt);
      else printStatus(found.status);
    });
  });

const listStatusSchema = z.enum(['needs_attention', 'running', 'completed']).optional();

export const erasuresCommand = new Command('erasures')
  .description('list erasures, optionally by status')
  .addOption(
    new Option('--status <status>', 'only erasures in this state').choices(listStatusSchema.unwrap().options),
  )
  .option('--json', 'print stable JSON')
  .action(async (flags: { status?: string; json?: boolean }) => {
    await withHubClient(async (context) => {
      const listings = await listErasures(context, listStatusSchema.parse(flags.status));
      if (flags.json) printJson(listings);
      else printListing(listings);
    });
  });

const systemOption = () =>
  new Option('--system <name>', 'the system to act on').choices([...systemNames]).makeOptionMandatory();

export const retryCommand = new Command('retry')
  .description('retry a system that needs attention, after fixing its cause')
  .argument('<request-id>')
  .addOption(systemOption())
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, flags: { system: string; json?: boolean }) => {
    await withHubClient(async (context) => {
      const status = await retryErasureSystem(context, requestId, { system: flags.system });
      if (flags.json) printJson(status);
      else print(`Retrying ${flags.system} for ${requestId}.`);
    });
  });

export const closeCommand = new Command('close')
  .description('give up on a system that needs attention, with a reason recorded in the receipt')
  .argument('<request-id>')
  .addOption(systemOption())
  .requiredOption('--reason <text>', 'why the system is closed without erasure')
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, flags: { system: string; reason: string; json?: boolean }) => {
    await withHubClient(async (context) => {
      const status = await closeErasureSystem(context, requestId, {
        system: flags.system,
        reason: flags.reason,
      });
      if (flags.json) printJson(status);
      else print(`Closed ${flags.system} for ${requestId}.`);
    });
  });
