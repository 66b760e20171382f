import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { consentChangeRequestSchema, consentEvidenceSchema } from '../../domain/consent.js';
import { emailSchema } from '../../domain/email.js';
import { marketingPurposes, type Purpose, purposeSchema, purposes } from '../../domain/purposes.js';
import type { RequestListing } from '../../domain/request-deadline.js';
import { type ConsentStatusResult, consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { listRequests, receiptTimes } from '../../hub-client/request-deadlines.js';
import { retryLine } from '../erasure-output.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { UsageError } from '../usage-error.js';
import { receivedAtOption } from './received-at.js';

const evidenceExpected =
  'expected inline JSON such as \'{"policyVersion":"2024-05"}\' or the path of a JSON file';

/** `--evidence` takes inline JSON or a path to a JSON file; any problem is one line naming what is expected. */
function readEvidence(value: string | undefined) {
  if (value === undefined) return {};
  let text = value;
  if (!value.trim().startsWith('{')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : 'not readable';
      throw new UsageError(`--evidence: cannot read ${value} (${why}); ${evidenceExpected}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(
      `--evidence: ${value === text ? 'not valid JSON' : `${value} is not valid JSON`}; ${evidenceExpected}`,
    );
  }
  const evidence = consentEvidenceSchema.safeParse(parsed);
  if (!evidence.success) {
    const issue = evidence.error.issues[0];
    const where =
      issue?.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.join(', ')}`
        : `${issue?.path.join('.') || 'value'}: ${issue?.message}`;
    throw new UsageError(
      `--evidence: ${where}; expected an object with policyVersion, formId, channel, requestRef or note`,
    );
  }
  return evidence.data;
}

/** `--occurred-at` must be an ISO 8601 date-time with a zone; said in one line, before anything is sent. */
function readOccurredAt(value: string | undefined): string {
  if (value === undefined) return new Date().toISOString();
  const parsed = z.iso.datetime({ offset: true }).safeParse(value.trim());
  if (!parsed.success)
    throw new UsageError(
      `--occurred-at: ${JSON.stringify(value)} is not a date-time; expected ISO 8601 with a zone, such as 2025-01-31T09:30:00Z`,
    );
  return parsed.data;
}

/** Checks each `--purpose` as it is read, so an unknown one stops the command before anything is recorded. */
function collectPurpose(value: string, previous: Purpose[] = []): Purpose[] {
  const parsed = purposeSchema.safeParse(value);
  if (!parsed.success)
    throw new InvalidArgumentError(`unknown purpose; expected one of: ${purposes.join(', ')}.`);
  return [...previous, parsed.data];
}

export const optOutCommand = new Command('opt-out')
  .description('withdraw marketing (or the given purposes) for a person, in every tool')
  .requiredOption('--email <email>', "the person's email address")
  .addOption(
    new Option(
      '--purpose <purpose>',
      `a purpose to withdraw (repeatable; one of ${purposes.join(', ')}); default: all marketing purposes`,
    ).argParser(collectPurpose),
  )
  .option('--source <source>', 'where the opt-out came from', 'cli')
  .addOption(receivedAtOption())
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: { email: string; purpose?: Purpose[]; source: string; receivedAt?: string },
      command: Command,
    ) => {
      const chosen =
        flags.purpose && flags.purpose.length > 0 ? [...new Set(flags.purpose)] : [...marketingPurposes];
      const occurredAt = new Date().toISOString();
      // The whole command is validated before the first change is sent: all of it is recorded, or none.
      const changes = chosen.map((purpose) =>
        consentChangeRequestSchema.parse({
          email: flags.email,
          purpose,
          decision: 'withdrawn',
          occurredAt,
          source: flags.source,
          evidence: { channel: flags.source },
          ...(flags.receivedAt === undefined ? {} : { receivedAt: flags.receivedAt }),
        }),
      );
      await withHubClient(async (context, _config, ledger) => {
        // The date against the clock and the floor, before the first change is sent.
        const { receivedAt } = receiptTimes(context, changes[0]?.receivedAt);
        const accepted = [];
        for (const change of changes)
          accepted.push(await recordConsentChange(context, { ...change, receivedAt }, undefined, { ledger }));
        if (wantsJson(command))
          printJson(
            accepted.map(({ eventId, subjectKey, receivedAt, dueAt }, i) => ({
              eventId,
              subjectKey,
              purpose: chosen[i],
              receivedAt,
              dueAt,
            })),
          );
        else {
          print(`Opt-out recorded for subject ${accepted[0]?.subjectKey}: ${chosen.join(', ')}`);
          print(
            `  received ${receivedAt}, due ${accepted[0]?.dueAt}  (events ${accepted.map((a) => a.eventId).join(', ')})`,
          );
          print('It is being carried to every tool; follow it with `consent-hub status --email <email>`.');
        }
      });
    },
  );

export const consentCommand = new Command('consent')
  .description('record a grant or withdrawal of one purpose, with its evidence, and carry it to every tool')
  .requiredOption('--email <email>', "the person's email address")
  .addOption(new Option('--purpose <purpose>', 'the purpose').choices([...purposes]).makeOptionMandatory())
  .option('--grant', 'the person gives consent (needs --evidence)')
  .option('--withdraw', 'the person withdraws consent')
  .option(
    '--evidence <json-or-file>',
    'policyVersion, formId, channel, requestRef (identifiers), note (scrubbed text); other keys are refused',
  )
  .option('--occurred-at <iso>', 'when the person made the choice (default: now)')
  .option('--source <source>', 'where the change came from', 'cli')
  .addOption(receivedAtOption())
  .option('--json', 'print stable JSON')
  .action(
    async (
      flags: {
        email: string;
        purpose: (typeof purposes)[number];
        grant?: boolean;
        withdraw?: boolean;
        evidence?: string;
        occurredAt?: string;
        source: string;
        receivedAt?: string;
      },
      command: Command,
    ) => {
      if (Boolean(flags.grant) === Boolean(flags.withdraw))
        throw new UsageError('give exactly one of --grant or --withdraw');
      const change = consentChangeRequestSchema.parse({
        email: flags.email,
        purpose: flags.purpose,
        decision: flags.grant ? 'granted' : 'withdrawn',
        occurredAt: readOccurredAt(flags.occurredAt),
        source: flags.source,
        evidence: readEvidence(flags.evidence),
        ...(flags.receivedAt === undefined ? {} : { receivedAt: flags.receivedAt }),
      });
      await withHubClient(async (context, _config, ledger) => {
        const accepted = await recordConsentChange(context, change, undefined, { ledger });
        if (wantsJson(command))
          printJson({
            eventId: accepted.eventId,
            subjectKey: accepted.subjectKey,
            receivedAt: accepted.receivedAt,
            dueAt: accepted.dueAt,
          });
        else
          print(
            `Recorded ${flags.grant ? 'grant' : 'withdrawal'} of ${flags.purpose}: event ${accepted.eventId} (due ${accepted.dueAt})`,
          );
      });
    },
  );

function printPersonRequests(requests: RequestListing[]): void {
  if (requests.length === 0) return;
  print('');
  print('Requests:');
  for (const row of requests) {
    const extended = row.extendedMonths > 0 ? `, extended ${row.extendedMonths} mo` : '';
    print(
      `  ${row.kind.padEnd(13)} ${row.requestId}  ${row.state.padEnd(15)} received ${row.receivedAt}  due ${row.dueAt}${extended}${row.overdue ? '  OVERDUE' : ''}`,
    );
  }
}

function printConsentStatus(status: ConsentStatusResult): void {
  print(
    `Subject key ${status.subjectKey}${status.erased ? '  (erased: grants are refused, withdrawals still apply)' : ''}`,
  );
  const notFollowed = status.requestedUnder?.notFollowed;
  if (notFollowed)
    print(
      `  re-key ${notFollowed.from} -> ${notFollowed.to} (rectification ${notFollowed.rectificationRequestId}) not followed: subject ${notFollowed.from} has records of its own since`,
    );
  if (status.requestedUnder && status.requestedUnder.rekeys.length > 0) {
    const last = status.requestedUnder.rekeys.at(-1);
    print(
      `  asked under an earlier address (subject ${status.requestedUnder.subjectKey}), re-keyed to this key${last ? ` by rectification ${last.rectificationRequestId} at ${last.at}` : ''}`,
    );
  }
  print(`Per purpose (from the ${status.from}):`);
  const entries = Object.entries(status.purposes);
  if (entries.length === 0) print('  no consent recorded');
  for (const [purpose, decision] of entries) {
    const systems = Object.entries(decision?.systems ?? {})
      .map(([system, outcome]) => `${system}=${outcome}`)
      .join(' ');
    print(`  ${purpose.padEnd(20)} ${decision?.decision.padEnd(9)} ${decision?.occurredAt}  ${systems}`);
  }
  print('Per system (the state the hub last wrote there, and when):');
  for (const [system, state] of Object.entries(status.systems)) {
    // While the worker retries, its live attempt is newer than a failure an earlier round left.
    const detail = state.retrying
      ? `: ${retryLine(state.retrying)}`
      : state.failure
        ? `: ${state.failure.reason}${state.failure.status ? ` (HTTP ${state.failure.status})` : ''}`
        : '';
    const live =
      (state.status === 'idle' ? '' : ` [${state.status}${state.behind ? ', newer state waiting' : ''}]`) +
      (!state.retrying && state.attempts > 1 ? ` [${state.attempts} attempts]` : '');
    const written = state.written;
    if (!written) {
      print(`  ${system.padEnd(10)} nothing written yet${live}${detail}`);
      continue;
    }
    const fields = Object.entries(written.fields)
      .map(([field, value]) => `${field}=${value}`)
      .join(' ');
    const reason = written.reason ? ` (${written.reason})` : '';
    print(`  ${system.padEnd(10)} ${written.outcome} at ${written.at}${reason}${live}${detail}`);
    if (fields) print(`  ${''.padEnd(10)} ${fields}`);
  }
  if (status.inFlight > 0) print(`${status.inFlight} change(s) or system(s) still in flight.`);
  if (status.verification) {
    print(
      'Read from the tools now (≠ marks a field that differs from what the decisions in force call for):',
    );
    for (const [system, answer] of Object.entries(status.verification)) {
      if (!answer) continue;
      if ('error' in answer) {
        print(`  ! could not read ${system}: ${answer.error}`);
        continue;
      }
      if (answer.note) print(`  ${system.padEnd(10)} ${answer.note}`);
      for (const field of answer.fields) {
        const mark = field.differs ? '≠' : ' ';
        const wanted = field.desired ?? '(undecided)';
        print(
          `  ${mark} ${system.padEnd(10)} ${field.field.padEnd(28)} now ${field.actual.padEnd(13)} wanted ${wanted}  (${field.purposes.join(', ')})`,
        );
      }
    }
    // A tool that could not be read is never counted as agreeing.
    const unread = (status.unreadable ?? []).map((u) => u.system);
    if (status.differs) print('Some tool differs from the hub.');
    if (unread.length > 0) print(`Not verified: could not read ${unread.join(', ')}.`);
    else if (!status.differs) print('No difference.');
  }
}

export const statusCommand = new Command('status')
  .description("a person's consent per purpose and per system, and any change still in flight")
  .requiredOption('--email <email>', "the person's email address")
  .option(
    '--verify',
    'read every tool now and mark any field that differs (exit 1 when one does or a tool cannot be read)',
  )
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string; verify?: boolean }, command: Command) => {
    const email = emailSchema.parse(flags.email);
    await withLedger(async (ledger) =>
      withHubClient(async (context) => {
        const status = await consentStatus(context, ledger, email, { verify: flags.verify });
        // The person's requests of every kind with their deadlines, open ones first.
        const requests = (await listRequests(context, ledger, { subjectKey: status.subjectKey })).sort(
          (a, b) => Number(Boolean(a.completedAt)) - Number(Boolean(b.completedAt)),
        );
        if (wantsJson(command)) printJson({ ...status, requests });
        else {
          printConsentStatus(status);
          printPersonRequests(requests);
        }
        // A tool that differs from the hub, or one that could not be read, is a finished check with a
        // failure, for scripts (exit 1): only a check of every tool that found no difference exits 0.
        if (flags.verify && !status.agrees) requestExitCode(exitCodes.finishedWithFailures);
      }),
    );
  });
