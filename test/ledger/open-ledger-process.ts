/**
 * One process opening the ledger, as a worker or the API does at start: `node --import tsx thisfile` with
 * the store's options as JSON in CONSENT_HUB_TEST_LEDGER_OPTIONS. Prints `ready`, waits for the go-file so
 * that every process starts migrating at the same moment, then prints `opened` or the error, and exits.
 */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import { openLedger } from '../../ledger/open-ledger.js';

const options = JSON.parse(process.env.CONSENT_HUB_TEST_LEDGER_OPTIONS ?? '{}');
const go = process.env.CONSENT_HUB_TEST_GO_FILE ?? '';
process.stdout.write('ready\n');
while (go && !existsSync(go)) await delay(5);
try {
  const ledger = await openLedger(options, pino({ level: 'silent' }));
  await ledger.getTombstone('0'.repeat(64));
  await ledger.close();
  process.stdout.write('opened\n');
} catch (error) {
  process.stdout.write(`failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
