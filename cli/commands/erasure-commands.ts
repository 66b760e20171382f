import { userInfo } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Command, Option } from 'commander';
import type { ErasureReceipt, ErasureStatusView } from '../../domain/erasure.js';
import { erasureReasonCodes } from '../../domain/erasure.js';
import { type ErasureListStatus, erasureListStatuses } from '../../domain/erasure-listing.js';
import type { RectificationReceipt, RectificationStatusView } from '../../domain/rectification.js';
import { isOverdue } from '../../domain/request-deadline.js';
import type { HubClientContext } from '../../hub-client/erasures.js';
import { RequestNotFound } from '../../hub-client/request-errors.js';
import type { erasureWorkflow } from '../../workflows/erasure.js';
import {
  operatorLine,
  printListing,
  printMovedRecords,
  printReceipt,
  printRequestedUnder,
  printStatus,
} from '../erasure-output.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { followRequest } from '../follow-request.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { printRectificationReceipt, printRectificationStatus } from '../rectification-output.js';
import { requestLog } from '../request-log.js';
import { cliActorId } from './actor-id.js';
import { receivedAtOption } from './received-at.js';
import { requestIdArgument } from './request-id.js';

/** Loaded on use, so that `--help` and bad input never load the Temporal client. */
const hubErasures = () => import('../../hub-client/erasures.js');
const hubRectifications = () => import('../../hub-client/rectifications.js');

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const eraseCommand = new Command('erase')
  .description('erase a person from every system; prints the request id, and with --wait follows it')
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
  .option(
    '--wait',
    'follow it per system until the receipt (exit 1 if a system failed) or until a system needs attention (exit 3)',
  )
  .option('--wait-through-attention', 'with --wait: keep waiting while a system needs attention')
  .addOption(receivedAtOption())
  .option('--json', 'print stable JSON')
  .action(async (flags, command: Command) => {
    const json = wantsJson(command);
    const { liveStatus, requestErasure } = await hubErasures();
    await withHubClient(async (context, _config, ledger) => {
      // Validated (and the email normalised) before anything is started.
      const started = await requestErasure(
        context,
        {
          email: flags.email,
          gaClientIds: flags.gaClientId,
          gaUserIds: flags.gaUserId ? [flags.gaUserId] : [],
          reason: flags.reason,
          reasonNote: flags.reasonNote,
          requestedBy: flags.requestedBy ?? cliActorId(userInfo().username),
          requestedAt: new Date().toISOString(),
          ...(flags.receivedAt === undefined ? {} : { receivedAt: flags.receivedAt }),
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
            joined: started.joined,
            ...(started.erasureDeadline ? { erasureDeadline: started.erasureDeadline } : {}),
            ...(started.joinedLegacyKey ? { joinedLegacyKey: started.joinedLegacyKey } : {}),
            ...(started.requestedUnder ? { requestedUnder: started.requestedUnder } : {}),
            ...(started.movedRecords ? { movedRecords: started.movedRecords } : {}),
          });
        else {
          print(`Erasure requested: ${started.requestId}`);
          print(`  subject key ${started.subjectKey}  (workflow ${started.workflowId})`);
          print(`  this request: received ${started.receivedAt}, due ${started.dueAt}`);
          if (started.erasureDeadline) {
            print(
              `  joined the erasure already running for this person${started.joinedLegacyKey ? ' (under the key an older version gave another spelling of the address)' : ''}: received ${started.erasureDeadline.receivedAt}, due ${started.erasureDeadline.dueAt}`,
            );
          }
          if (started.requestedUnder) printRequestedUnder(started.requestedUnder);
          for (const moved of started.movedRecords ?? []) printMovedRecords(moved);
          print(`  follow it with: consent-hub receipt ${started.requestId}`);
        }
        return;
      }
      // The id first, at once: whatever happens next, the operator can find the request again.
      if (json) process.stderr.write(`Erasure requested: ${started.requestId}\n`);
      else {
        print(`Erasure requested: ${started.requestId} (subject key ${started.subjectKey})`);
        if (started.requestedUnder) printRequestedUnder(started.requestedUnder);
        for (const moved of started.movedRecords ?? []) printMovedRecords(moved);
      }

      const handle = context.client.workflow.getHandle<typeof erasureWorkflow>(
        started.workflowId,
        started.requestId,
      );
      await followRequest({
        result: handle.result(),
        liveStatus: () => liveStatus(context, handle),
        json,
        waitThroughAttention: Boolean(flags.waitThroughAttention),
        printStatus,
        deadline: { receivedAt: started.receivedAt, dueAt: started.dueAt },
        finish: (receipt) =>
          finishWithReceipt(context, receipt, json, {
            waitThroughAttention: Boolean(flags.waitThroughAttention),
          }),
        // A legal hold lasts months: the restriction is done, and the deletion follows the release.
        stopAt: (status) => status.status === 'on_hold',
      });
    });
  });

async function finishWithReceipt(
  context: HubClientContext,
  receipt: ErasureReceipt,
  json: boolean,
  wait: { waitThroughAttention: boolean },
): Promise<void> {
  // The records a half-done rectification moved are erased by their own erasure: the person is not erased
  // until it ends too, so --wait follows it (and answers for it) before the receipt is shown.
  const moved = await awaitMovedRecordsErasures(context, receipt, json, wait);
  if (json) printJson(moved.ids.length > 0 ? { ...receipt, movedRecordsNow: moved.now } : receipt);
  else {
    print('');
    printReceipt(receipt, moved.now);
  }
  if (receipt.outcome !== 'completed') requestExitCode(exitCodes.finishedWithFailures);
  else if (moved.needsAttention) requestExitCode(exitCodes.needsAttention);
  else if (moved.unfinished) requestExitCode(exitCodes.finishedWithFailures);
}

/** The state movedRecordsErasureStates gives an erasure Temporal does not know (past retention). */
const notFound = 'not found in Temporal';

/** Moved records' erasures in these states are where --wait stops: done, or held until a release. */
const movedErasureSettled = new Set(['completed', 'on_hold']);

/**
 * Waits for each erasure of records a half-done rectification moved (the receipt's `movedRecords`) to end,
 * or to need an operator (unless `waitThroughAttention`), or to restrict a held person; polls every second,
 * printing (text mode) a line when its state changes. Answers each one's state then (its receipt's outcome,
 * `on_hold`, `needs_attention`, or `not found in Temporal`), whether one needs attention, and whether one
 * ended other than `completed` (or could not be read: nothing proves it erased anything).
 */
async function awaitMovedRecordsErasures(
  context: HubClientContext,
  receipt: Pick<ErasureReceipt, 'movedRecords'>,
  json: boolean,
  wait: { waitThroughAttention: boolean },
): Promise<{ ids: string[]; now: Record<string, string>; needsAttention: boolean; unfinished: boolean }> {
  const ids = (receipt.movedRecords ?? []).flatMap((moved) =>
    moved.erasureRequestId ? [moved.erasureRequestId] : [],
  );
  let now = await movedRecordsNow(context, receipt);
  const shown = new Map<string, string>();
  const waiting = () =>
    ids.filter((id) => {
      const state = now[id] ?? '';
      if (state === 'needs_attention') return wait.waitThroughAttention;
      return !movedErasureSettled.has(state) && !state.startsWith('completed') && state !== notFound;
    });
  for (;;) {
    if (!json)
      for (const id of ids) {
        if (shown.get(id) === now[id]) continue;
        shown.set(id, now[id] ?? '');
        print(`  moved records' erasure ${id}: ${now[id]}`);
      }
    if (waiting().length === 0) break;
    await delay(1000);
    now = await movedRecordsNow(context, receipt);
  }
  const states = ids.map((id) => now[id]);
  return {
    ids,
    now,
    needsAttention: states.includes('needs_attention'),
    unfinished: states.some(
      (state) => state !== 'completed' && state !== 'on_hold' && state !== 'needs_attention',
    ),
  };
}

/** How each moved-records erasure stands now (hub-client movedRecordsErasureStates), loaded on use. */
const movedRecordsNow = async (context: HubClientContext, receipt: Pick<ErasureReceipt, 'movedRecords'>) =>
  (await hubErasures()).movedRecordsErasureStates(context, receipt);

/** What `receipt` shows: an erasure's or a rectification's receipt, or its live status. */
type Found =
  | ({ kind: 'erasure' } & (
      | { state: 'completed'; receipt: ErasureReceipt }
      | { state: 'open'; status: ErasureStatusView }
    ))
  | ({ kind: 'rectification' } & (
      | { state: 'completed'; receipt: RectificationReceipt }
      | { state: 'open'; status: RectificationStatusView }
    ));

export const receiptCommand = new Command('receipt')
  .description(
    "show an erasure's or a rectification's receipt, or its live status while it runs (with --log: its log)",
  )
  .addArgument(requestIdArgument())
  .option('--log', "also show the request's log: requested, every operator retry and close, completed")
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, flags: { log?: boolean }, command: Command) => {
    const json = wantsJson(command);
    // The ledger holds every finished erasure's receipt, long after Temporal's retention has dropped it.
    const [stored, recorded, deadline, accessReceipt] = await withLedger(async (ledger) =>
      Promise.all([
        ledger.getReceipt(requestId),
        flags.log ? ledger.listOperatorActions(requestId) : [],
        ledger.getRequestDeadline(requestId),
        ledger.getAccessReceipt(requestId),
      ]),
    );
    // An access request's receipt is in the ledger too, after Temporal's retention has dropped its workflow.
    if (!stored && accessReceipt) {
      if (json) printJson({ ...accessReceipt, ...(deadline ? { deadline } : {}) });
      else {
        print(`Access receipt ${accessReceipt.requestId}`);
        print(`  subject key  ${accessReceipt.subjectKey}`);
        print(`  requested    ${accessReceipt.requestedAt} by ${accessReceipt.requestedBy}`);
        print(`  completed    ${accessReceipt.completedAt}  outcome: ${accessReceipt.outcome}`);
        for (const [name, state] of Object.entries(accessReceipt.systems))
          print(`    ${name.padEnd(10)} ${state.status.padEnd(12)} ${state.recordCount ?? 0} records`);
        if (accessReceipt.expiresAt) print(`  fetchable until ${accessReceipt.expiresAt}`);
        if (accessReceipt.deletedAt) print(`  export deleted  ${accessReceipt.deletedAt}`);
      }
      if (accessReceipt.outcome !== 'completed') requestExitCode(exitCodes.finishedWithFailures);
      return;
    }
    // A rectification's id answers with its receipt or status; any other id is looked up as an erasure's.
    const found: Found = stored
      ? { kind: 'erasure', state: 'completed', receipt: stored }
      : await withHubClient(async (context, _config, hubLedger) => {
          const rectification = await (await hubRectifications())
            .lookupRectification(context, hubLedger, requestId)
            .catch((error: unknown) => {
              if (error instanceof RequestNotFound) return undefined;
              throw error;
            });
          if (rectification) return { kind: 'rectification', ...rectification } as Found;
          return {
            kind: 'erasure',
            ...(await (await hubErasures()).lookupErasure(context, requestId)),
          } as Found;
        });
    const view = found.state === 'completed' ? found.receipt : found.status;
    const log = flags.log
      ? requestLog(
          view,
          recorded,
          view.operatorActions ?? [],
          found.state === 'completed' ? found.receipt : undefined,
        )
      : undefined;
    // The deadline as the ledger has it: an erasure completed since the ledger heard is never overdue.
    const due = deadline && {
      ...deadline,
      overdue: found.state === 'open' && isOverdue(deadline, new Date()),
    };
    if (json) printJson({ ...view, ...(due ? { deadline: due } : {}), ...(log ? { log: log.entries } : {}) });
    else {
      if (found.kind === 'rectification') {
        if (found.state === 'completed') printRectificationReceipt(found.receipt);
        else printRectificationStatus(found.status);
      } else if (found.state === 'completed')
        printReceipt(
          found.receipt,
          found.receipt.movedRecords?.some((moved) => moved.erasureRequestId)
            ? await withHubClient((context) => movedRecordsNow(context, found.receipt))
            : {},
        );
      else printStatus(found.status);
      if (due) {
        const extended = due.extendedMonths > 0 ? `, extended by ${due.extendedMonths} month(s)` : '';
        print(`Received ${due.receivedAt}, due ${due.dueAt}${extended}${due.overdue ? '  OVERDUE' : ''}`);
      }
      if (log) {
        print('');
        print('Log:');
        for (const entry of log.entries) {
          if (entry.event === 'retry' || entry.event === 'close') {
            const e = entry as {
              at: string;
              event: 'retry' | 'close';
              system: string;
              by: string;
              reason?: string;
            };
            print(
              `  ${operatorLine({ at: e.at, action: e.event, system: e.system as never, operator: e.by, reason: e.reason })}`,
            );
          } else {
            const rest = Object.entries(entry)
              .filter(([k]) => k !== 'at' && k !== 'event')
              .map(([k, v]) => `${k} ${v}`)
              .join(', ');
            print(`  ${entry.at}  ${entry.event}${rest ? ` (${rest})` : ''}`);
          }
        }
      }
    }
    if (found.state === 'open' && found.status.status === 'needs_attention')
      requestExitCode(exitCodes.needsAttention);
    // A receipt with a failed or closed system is "finished with failures", as erase --wait says of it.
    if (found.state === 'completed' && found.receipt.outcome !== 'completed')
      requestExitCode(exitCodes.finishedWithFailures);
  });

export const erasuresCommand = new Command('erasures')
  .description('list erasures with their outcome and the systems that need a person, and why')
  .addOption(
    new Option('--status <status>', 'only erasures in this state or with this outcome').choices([
      ...erasureListStatuses,
    ]),
  )
  .option('--json', 'print stable JSON')
  .action(async (flags: { status?: ErasureListStatus }, command: Command) => {
    const json = wantsJson(command);
    await withLedger((ledger) =>
      withHubClient(async (context) => {
        const listings = await (await hubErasures()).listErasures(context, flags.status, ledger);
        if (json) printJson(listings);
        else printListing(listings);
      }),
    );
  });
