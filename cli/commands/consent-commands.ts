import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { type ConsentStatusView, consentEvidenceSchema } from '../../domain/consent.js';
import { marketingPurposes, purposes } from '../../domain/purposes.js';
import { consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { print, printJson, withHubClient } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { UsageError } from '../usage-error.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--evidence` takes inline JSON or a path to a JSON file. */
function readEvidence(value: string | undefined) {
  if (value === undefined) return {};
  const text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('--evidence is neither JSON nor a readable JSON file');
  }
  return consentEvidenceSchema.parse(parsed);
}

export const optOutCommand = new Command('opt-out')
  .description('withdraw marketing (or the given purposes) for a person, in every tool')
  .requiredOption('--email <email>', "the person's email address")
  .addOption(
    new Option('--purpose <purpose>', 'a purpose to withdraw (repeatable); default: all marketing purposes')
      .choices([...purposes])
      .argParser(collect),
  )
  .option('--source <source>', 'where the opt-out came from', 'cli')
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string; purpose?: string[]; source: string; json?: boolean }) => {
    const chosen = flags.purpose && flags.purpose.length > 0 ? flags.purpose : [...marketingPurposes];
    await withHubClient(async (context) => {
      const occurredAt = new Date().toISOString();
      const accepted = [];
      for (const purpose of chosen) {
        accepted.push(
          await recordConsentChange(context, {
            email: flags.email,
            purpose: purpose as (typeof purposes)[number],
            decision: 'withdrawn',
            occurredAt,
            source: flags.source,
            evidence: { channel: flags.source },
          }),
        );
      }
      if (flags.json)
        printJson(
          accepted.map(({ eventId, subjectKey }, i) => ({ eventId, subjectKey, purpose: chosen[i] })),
        );
      else {
        print(`Opt-out recorded for subject ${accepted[0]?.subjectKey}: ${chosen.join(', ')}`);
        print('It is being carried to every tool; follow it with `consent-hub status --email <email>`.');
      }
    });
  });

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
  .option('--json', 'print stable JSON')
  .action(
    async (flags: {
      email: string;
      purpose: (typeof purposes)[number];
      grant?: boolean;
      withdraw?: boolean;
      evidence?: string;
      occurredAt?: string;
      source: string;
      json?: boolean;
    }) => {
      if (Boolean(flags.grant) === Boolean(flags.withdraw))
        throw new UsageError('give exactly one of --grant or --withdraw');
      const evidence = readEvidence(flags.evidence);
      await withHubClient(async (context) => {
        const accepted = await recordConsentChange(context, {
          email: flags.email,
          purpose: flags.purpose,
          decision: flags.grant ? 'granted' : 'withdrawn',
          occurredAt: flags.occurredAt ?? new Date().toISOString(),
          source: flags.source,
          evidence,
        });
        if (flags.json) printJson({ eventId: accepted.eventId, subjectKey: accepted.subjectKey });
        else
          print(
            `Recorded ${flags.grant ? 'grant' : 'withdrawal'} of ${flags.purpose}: event ${accepted.eventId}`,
          );
      });
    },
  );

function printConsentStatus(status: ConsentStatusView & { from: string }): void {
  print(`Subject key ${status.subjectKey}${status.erased ? '  (erased: changes are refused)' : ''}`);
  print(`Per purpose (from the ${status.from}):`);
  const entries = Object.entries(status.purposes);
  if (entries.length === 0) print('  no consent recorded');
  for (const [purpose, decision] of entries) {
    const systems = Object.entries(decision?.systems ?? {})
      .map(([system, outcome]) => `${system}=${outcome}`)
      .join(' ');
    print(`  ${purpose.padEnd(20)} ${decision?.decision.padEnd(9)} ${decision?.occurredAt}  ${systems}`);
  }
  print('Per system:');
  for (const [system, state] of Object.entries(status.systems)) {
    print(`  ${system.padEnd(10)} ${state.status}${state.failure ? `: ${state.failure.reason}` : ''}`);
  }
  if (status.inFlight > 0) print(`${status.inFlight} change(s) still in flight.`);
}

export const statusCommand = new Command('status')
  .description("a person's consent per purpose and per system, and any change still in flight")
  .requiredOption('--email <email>', "the person's email address")
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string; json?: boolean }) => {
    await withLedger(async (ledger) =>
      withHubClient(async (context) => {
        const status = await consentStatus(context, ledger, flags.email);
        if (flags.json) printJson(status);
        else printConsentStatus(status);
      }),
    );
  });
