import { Command } from 'commander';
import { z } from 'zod';
import { emailSchema } from '../../domain/email.js';
import { addressChangeRefusalLine } from '../../hub-client/address-change-refusals.js';
import { followSubjectLinks, rekeysInto, requestedUnderOf } from '../../hub-client/subject-links.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { print, printJson, wantsJson } from '../hub-context.js';
import { withLedger } from '../ledger-context.js';
import { UsageError } from '../usage-error.js';

export const historyCommand = new Command('history')
  .description(
    "a person's consent events with their evidence, then their erasure receipts, legal holds, refused address changes and tombstone",
  )
  .requiredOption('--email <email>', "the person's email address (only its subject key is looked up)")
  .option('--json', 'print stable JSON')
  .action(async (flags: { email: string }, command: Command) => {
    const email = emailSchema.parse(flags.email);
    await withLedger(async (ledger, config) => {
      // An address a rectification moved away from: the person's history is under the key they have now.
      const followed = await followSubjectLinks(
        ledger,
        subjectKeyFor(email, config.CONSENT_HUB_SUBJECT_KEY_SECRET),
      );
      const { subjectKey } = followed;
      const requestedUnder = requestedUnderOf(followed);
      const [events, receipts, tombstone, holds, rekeys, addressChangeRefusals] = await Promise.all([
        ledger.listConsentEvents(subjectKey),
        ledger.listReceipts({ subjectKey }),
        ledger.getTombstone(subjectKey),
        ledger.listHolds(subjectKey),
        rekeysInto(ledger, subjectKey),
        ledger.listAddressChangeRefusals({ subjectKey }),
      ]);
      if (wantsJson(command)) {
        printJson({
          subjectKey,
          ...(requestedUnder ? { requestedUnder } : {}),
          rekeys,
          consentEvents: events,
          receipts,
          holds,
          addressChangeRefusals,
          tombstone: tombstone ?? null,
        });
        return;
      }
      print(`Subject key ${subjectKey}`);
      if (requestedUnder)
        print(
          `  asked under an earlier address (subject ${requestedUnder.subjectKey}), re-keyed since: this is the person's history under the key they have now`,
        );
      print('');
      if (rekeys.length > 0) {
        print(`Re-keys (${rekeys.length})`);
        for (const r of rekeys)
          print(`  ${r.at}  ${r.from} -> ${r.to}  by rectification ${r.rectificationRequestId}`);
        print('');
      }
      print(`Consent events (${events.length})`);
      for (const e of events) {
        print(`  ${e.occurredAt}  ${e.purpose.padEnd(20)} ${e.decision.padEnd(9)} from ${e.source}`);
        const evidence = Object.entries(e.evidence)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        if (evidence) print(`      evidence: ${evidence}`);
      }
      print('');
      print(`Erasure receipts (${receipts.length})`);
      for (const r of receipts) print(`  ${r.requestId}  ${r.outcome}  completed ${r.completedAt}`);
      print('');
      // Every hold, also one that met no erasure: it is evidence of why data was kept, or could have been.
      print(`Legal holds (${holds.length})`);
      for (const h of holds) {
        print(`  ${h.placedAt}  placed    ${h.reason} by ${h.placedBy}`);
        if (h.releasedAt)
          print(`  ${h.releasedAt}  released  ${h.releaseReason ?? 'resolved'} by ${h.releasedBy ?? '?'}`);
      }
      print('');
      // A vendor's address change the hub refused: the vendors disagree on the address until acknowledged.
      if (addressChangeRefusals.length > 0) {
        print(`Refused address changes (${addressChangeRefusals.length})`);
        for (const refusal of addressChangeRefusals) print(`  ${addressChangeRefusalLine(refusal)}`);
        print('');
      }
      print(
        tombstone
          ? `Tombstone: erased ${tombstone.erasedAt} from ${tombstone.systems.join(', ') || 'no system'} (first request ${tombstone.firstRequestId})`
          : 'No tombstone: this person has not been erased.',
      );
    });
  });

const sinceSchema = z.iso.date().or(z.iso.datetime({ offset: true }));

/** `--since` as a UTC instant; anything else is one line saying what is expected. */
function readSince(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = sinceSchema.safeParse(value.trim());
  if (!parsed.success)
    throw new UsageError(
      `--since: ${JSON.stringify(value)} is not a date; expected YYYY-MM-DD or an ISO 8601 date-time such as 2025-01-31T09:30:00Z`,
    );
  return new Date(parsed.data).toISOString();
}

export const receiptsCommand = new Command('receipts')
  .description('export erasure receipts from the ledger as JSON lines, for an auditor')
  .option('--since <date>', 'only receipts completed on or after this date (YYYY-MM-DD or ISO 8601)')
  .option('--json', 'JSON lines (the default; kept for symmetry with the other commands)')
  .action(async (flags: { since?: string }) => {
    const since = readSince(flags.since);
    await withLedger(async (ledger) => {
      const receipts = await ledger.listReceipts({ since });
      for (const receipt of receipts) process.stdout.write(`${JSON.stringify(receipt)}\n`);
    });
  });
