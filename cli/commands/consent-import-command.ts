import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { type ConsentChangeRequest, consentChangeRequestSchema } from '../../domain/consent.js';
import { consentBatchBytes, consentBatchLimit, consentBatchParts } from '../../domain/consent-batch.js';
import { nameOfField } from '../../domain/input-messages.js';
import {
  type ConsentBatchAccepted,
  consentBatchResult,
  recordConsentBatch,
} from '../../hub-client/consent-batch.js';
import { exitCodes, requestExitCode } from '../exit-codes.js';
import { print, printJson, wantsJson, withHubClient } from '../hub-context.js';
import { UsageError } from '../usage-error.js';

/**
 * The file's changes, one JSON object a line (the body of POST /v1/consent-events; blank lines skipped).
 * Every line is checked before anything is sent: a bad line stops the import with every bad line named by
 * its number and field, never by its address.
 */
export function readConsentFile(path: string): { line: number; change: ConsentChangeRequest }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--file: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : 'not readable'})`,
    );
  }
  const changes: { line: number; change: ConsentChangeRequest }[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${index + 1}: not valid JSON`);
      return;
    }
    // Strict, as the API's body: a misspelt field is named, never dropped.
    const parsed = consentChangeRequestSchema.strict().safeParse(value);
    if (parsed.success) {
      changes.push({ line: index + 1, change: parsed.data });
      return;
    }
    for (const issue of parsed.error.issues) {
      const where =
        issue.code === 'unrecognized_keys'
          ? `unknown field ${issue.keys.map(nameOfField).join(', ')}`
          : `${issue.path.map(nameOfField).join('.') || 'value'}: ${issue.message}`;
      problems.push(`line ${index + 1}: ${where}`);
    }
  });
  if (problems.length > 0) {
    throw new UsageError(
      `--file: ${problems.length} problem(s), nothing was recorded:\n  ${problems.slice(0, 50).join('\n  ')}`,
    );
  }
  if (changes.length === 0) throw new UsageError(`--file: ${path} holds no consent changes`);
  return changes;
}

export const consentImportCommand = new Command('consent-import')
  .description(
    `record many consent changes from a file (one JSON object a line, as POST /v1/consent-events takes), at most ${consentBatchLimit} a batch: opt-outs go out in the vendors' batch calls`,
  )
  .requiredOption('--file <ndjson>', 'the file: one consent change a line')
  .option('--wait', 'wait for each batch and print where each person went')
  .option('--json', 'print stable JSON')
  .action(async (flags: { file: string; wait?: boolean }, command: Command) => {
    const changes = readConsentFile(flags.file);
    await withHubClient(async (context, _config, ledger) => {
      const batches: (ConsentBatchAccepted & { summary?: Record<string, number> })[] = [];
      // At most 1,000 lines a batch, fewer when long evidence would pass what one batch workflow carries.
      for (const lines of consentBatchParts(changes, ({ change }) => consentBatchBytes(change))) {
        const part = lines.map(({ line, change }) => ({ index: line - 1, change }));
        const accepted: ConsentBatchAccepted & { summary?: Record<string, number> } =
          await recordConsentBatch(context, part, { ledger });
        if (flags.wait && accepted.workflowId) {
          const result = await consentBatchResult(context, accepted.batchId);
          const summary: Record<string, number> = { bulk: 0, person: 0, settled: 0, handedOff: 0 };
          for (const person of result.results) {
            summary[person.route] = (summary[person.route] ?? 0) + 1;
            if (person.handedOff) summary.handedOff = (summary.handedOff ?? 0) + 1;
          }
          accepted.summary = summary;
        }
        batches.push(accepted);
      }
      const refused = batches.flatMap((b) => b.refused);
      // Refused lines (grants for erased people) were not recorded: the import finished with failures.
      if (refused.length > 0) requestExitCode(exitCodes.finishedWithFailures);
      if (wantsJson(command)) {
        printJson({
          batches: batches.map((b) => ({
            batchId: b.batchId,
            accepted: b.accepted.map(({ index, eventId, subjectKey }) => ({
              line: index + 1,
              eventId,
              subjectKey,
            })),
            refused: b.refused.map(({ index, refused: why, reason }) => ({
              line: index + 1,
              refused: why,
              reason,
            })),
            ...(b.summary ? { summary: b.summary } : {}),
          })),
        });
        return;
      }
      for (const batch of batches) {
        print(
          `Batch ${batch.batchId}: ${batch.accepted.length} change(s) accepted, ${batch.refused.length} refused`,
        );
        for (const item of batch.refused) print(`  line ${item.index + 1} refused: ${item.reason}`);
        if (batch.summary) {
          const s = batch.summary;
          print(
            `  people: ${s.bulk} written in bulk, ${s.person} handed to their own workflow, ${s.settled} settled (superseded); ${s.handedOff} handed over after a bulk write did not serve them`,
          );
        }
      }
      if (!flags.wait)
        print(
          'Follow a batch with `GET /v1/consent-events/batch/<id>` or a person with `consent-hub status`.',
        );
    });
  });
