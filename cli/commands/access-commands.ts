import { renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import type { AccessStatusView } from '../../domain/access.js';
import { accessExportFormatSchema, accessExportFormats } from '../../domain/access.js';
import { printRequestedUnder } from '../erasure-output.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { UsageError } from '../usage-error.js';
import { cliActorId } from './actor-id.js';
import { receivedAtOption } from './received-at.js';
import { requestIdArgument } from './request-id.js';

/** Loaded on use, so that `--help` and bad input never load the Temporal client. */
const hubAccess = () => import('../../hub-client/access.js');
const collect = (value: string, previous: string[] = []) => [...previous, value];

function printAccessStatus(status: AccessStatusView): void {
  print(`Access request ${status.requestId}: ${status.status}`);
  print(`  subject key ${status.subjectKey}, requested ${status.requestedAt} by ${status.requestedBy}`);
  if (status.requestedUnder) printRequestedUnder(status.requestedUnder);
  for (const [system, state] of Object.entries(status.systems)) {
    const counts = state.counts
      ? Object.entries(state.counts)
          .map(([kind, n]) => `${n} ${kind}`)
          .join(', ')
      : '';
    const why = state.failure?.reason ?? state.closedReason;
    print(`  ${system.padEnd(10)} ${state.status}${counts ? ` (${counts})` : ''}${why ? `: ${why}` : ''}`);
  }
  if (status.export) print(`  export: ${status.export.recordCount} records, ${status.export.schema}`);
  if (status.expiresAt) print(`  can be fetched until ${status.expiresAt}`);
  if (status.deletedAt) print(`  deleted at ${status.deletedAt}`);
  if (status.status === 'needs_attention') {
    for (const [system, state] of Object.entries(status.systems))
      if (state.status === 'needs_attention')
        print(
          `  then: consent-hub retry ${status.requestId} --system ${system}  (or close ... --reason <text>)`,
        );
  }
}

const getCommand = new Command('get')
  .description(
    "write a request's export (the portable JSON, or the HTML report) to a file, while it may be fetched",
  )
  .addArgument(requestIdArgument('the request id that `access` printed'))
  .requiredOption('--out <file>', 'where to write it (created with mode 0600)')
  .addOption(
    new Option('--format <format>', `${accessExportFormats.join(' or ')}`)
      .choices([...accessExportFormats])
      .default('json'),
  )
  .option('--json', 'print what was written as JSON')
  .action(async (requestId: string, flags: { out: string; format: string }, command: Command) => {
    const format = accessExportFormatSchema.parse(flags.format);
    const { readAccessExport } = await hubAccess();
    const { AccessExportStore } = await import('../../privacy/access-export-store.js');
    const { exportDirectoryOf } = await import('../../config/hub-config.js');
    const { SubjectDataKeys } = await import('../../privacy/subject-data-keys.js');
    await withHubClient(async (context, config, ledger) => {
      const store = new AccessExportStore(
        exportDirectoryOf(config),
        config.CONSENT_HUB_ENCRYPTION_KEYS,
        new SubjectDataKeys(ledger, config.CONSENT_HUB_ENCRYPTION_KEYS),
      );
      const { content, status } = await readAccessExport(context, store, requestId, format);
      // A new file renamed into place: writing over an existing file would keep its mode (0644 leaves the
      // person's data readable to all) and would follow a symlink there.
      const temporary = `${flags.out}.${process.pid}.tmp`;
      writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
      renameSync(temporary, flags.out);
      if (wantsJson(command))
        printJson({ requestId, format, out: flags.out, bytes: content.length, expiresAt: status.expiresAt });
      else
        print(
          `Wrote the ${format} export of ${requestId} to ${flags.out} (${content.length} bytes; fetchable until ${status.expiresAt}).`,
        );
    });
  });

const statusCommand = new Command('status')
  .description("an access request's status per system, or its receipt once it ended")
  .addArgument(requestIdArgument('the request id that `access` printed'))
  .option('--json', 'print stable JSON')
  .action(async (requestId: string, _flags, command: Command) => {
    const { lookupAccess } = await hubAccess();
    await withHubClient(async (context, _config, ledger) => {
      const status = await lookupAccess(context, requestId, ledger);
      if (wantsJson(command)) printJson(status);
      else printAccessStatus(status);
      if (status.status === 'needs_attention') requestExitCode(exitCodes.needsAttention);
    });
  });

export const accessCommand = new Command('access')
  .description(
    'a copy of everything held about a person, from every system (GDPR Art. 15 and 20): a portable JSON document and an HTML report, encrypted in the export directory',
  )
  .option('--email <email>', "the person's email address")
  .option('--ga-client-id <id>', 'a Google Analytics client id the person gave (repeatable)', collect, [])
  .option('--ga-user-id <id>', 'a Google Analytics user id the person gave (repeatable)', collect, [])
  .option(
    '--requested-by <id>',
    'the operator, ticket or channel the request came through (an id, no spaces)',
  )
  .option('--wait', 'wait until the export is ready (exit 3 if a system needs attention first)')
  .addOption(receivedAtOption())
  .option('--json', 'print one JSON object (requestId, status, ...)')
  .addCommand(getCommand)
  .addCommand(statusCommand)
  .action(async (flags, command: Command) => {
    if (!flags.email) throw new UsageError('access needs --email <email> (or a subcommand: get, status)');
    const json = wantsJson(command);
    const { requestAccess, awaitAccess } = await hubAccess();
    await withHubClient(async (context, _config, ledger) => {
      const started = await requestAccess(
        context,
        {
          email: flags.email,
          gaClientIds: flags.gaClientId,
          gaUserIds: flags.gaUserId,
          requestedBy: flags.requestedBy ?? cliActorId(userInfo().username),
          requestedAt: new Date().toISOString(),
          ...(flags.receivedAt === undefined ? {} : { receivedAt: flags.receivedAt }),
        },
        { ledger },
      );
      if (!flags.wait) {
        if (json) printJson(started);
        else {
          print(`Access requested: ${started.requestId}`);
          print(`  subject key ${started.subjectKey}  (workflow ${started.workflowId})`);
          print(`  received ${started.receivedAt}, due ${started.dueAt}`);
          if (started.requestedUnder) printRequestedUnder(started.requestedUnder);
          print(`  follow it with: consent-hub access status ${started.requestId}`);
        }
        return;
      }
      if (json) process.stderr.write(`Access requested: ${started.requestId}\n`);
      else print(`Access requested: ${started.requestId} (subject key ${started.subjectKey})`);
      const status = await awaitAccess(context, started.requestId);
      if (json) printJson({ ...status, receivedAt: started.receivedAt, dueAt: started.dueAt });
      else {
        printAccessStatus(status);
        if (status.status === 'ready')
          print(
            `  fetch it with: consent-hub access get ${started.requestId} --out export.json [--format html]`,
          );
      }
      if (status.status === 'needs_attention') requestExitCode(exitCodes.needsAttention);
    });
  });
