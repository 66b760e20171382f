import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startCliHub } from '../support/cli-hub.js';
import { cli, stubConnectors } from './cli-test-kit.js';

let counter = 0;
const uniqueEmail = () => `import-cli.${Date.now()}.${counter++}@example.com`;
const fileWith = (lines: string[]) => {
  const path = join(mkdtempSync(join(tmpdir(), 'consent-import-')), 'changes.ndjson');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
};
const optOut = (email: string) =>
  JSON.stringify({
    email,
    purpose: 'marketing_email',
    decision: 'withdrawn',
    occurredAt: new Date().toISOString(),
    source: 'import:crm',
    evidence: { channel: 'import', requestRef: 'file-7' },
  });

describe('consent-hub consent-import', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let temporal: typeof hub.temporal;
  let ledger: Ledger;
  // Stand-in connectors have no bulk write: the batch hands everyone to their own workflow, which writes.
  const stubs = stubConnectors();

  beforeAll(async () => {
    hub = await startCliHub('cli-import', stubs.connectors);
    ({ temporal, ledger } = hub);
  });
  afterAll(() => hub?.close());

  it('exits 2 naming each bad line by number and field, never its address, and records nothing', async () => {
    const good = uniqueEmail();
    const bad = uniqueEmail();
    const path = fileWith([
      optOut(good),
      JSON.stringify({ ...JSON.parse(optOut(bad)), purpose: 'telepathy', colour: 'blue' }),
      'not json',
    ]);
    const run = await cli('consent-import', '--file', path);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('line 2: purpose');
    expect(run.stderr).toContain('line 2: unknown field colour');
    expect(run.stderr).toContain('line 3: not valid JSON');
    expect(run.stdout + run.stderr).not.toContain(bad);
    await delay(500);
    expect(await ledger.listConsentEvents(subjectKeyFor(good, temporal.secrets.subjectKeySecret))).toEqual(
      [],
    );
  });

  it('records every line in one batch, refuses an erased person’s grant (exit 1), and hands people over when a tool has no bulk write', async () => {
    const [a, b, erased] = [uniqueEmail(), uniqueEmail(), uniqueEmail()];
    const secret = temporal.secrets.subjectKeySecret;
    await ledger.recordTombstone({
      subjectKey: subjectKeyFor(erased, secret),
      erasedAt: new Date().toISOString(),
      systems: ['dynamics', 'mailchimp', 'google'],
      firstRequestId: '00000000-0000-4000-8000-000000000003',
      lastRequestId: '00000000-0000-4000-8000-000000000003',
    });
    const grant = JSON.stringify({
      ...JSON.parse(optOut(erased)),
      decision: 'granted',
      evidence: { policyVersion: '2026-01' },
    });
    const run = await cli(
      'consent-import',
      '--file',
      fileWith([optOut(a), '', optOut(b), grant]),
      '--wait',
      '--json',
    );
    expect(run.code).toBe(1);
    const printed = JSON.parse(run.stdout) as {
      batches: {
        batchId: string;
        accepted: { line: number; subjectKey: string }[];
        refused: { line: number; refused: string }[];
        summary: Record<string, number>;
      }[];
    };
    expect(printed.batches).toHaveLength(1);
    const [batch] = printed.batches;
    expect(batch?.accepted.map((x) => x.line)).toEqual([1, 3]);
    expect(batch?.refused).toEqual([expect.objectContaining({ line: 4, refused: 'erased' })]);
    expect(batch?.summary).toMatchObject({ bulk: 2, handedOff: 2 });
    expect(run.stdout).not.toContain('@');
    for (const email of [a, b]) {
      const key = subjectKeyFor(email, secret);
      let state = await consentStateFromLedger(ledger, key);
      for (let i = 0; i < 100 && !state.outcomes.marketing_email?.mailchimp; i++) {
        await delay(200);
        state = await consentStateFromLedger(ledger, key);
      }
      expect(state.purposes.marketing_email?.decision).toBe('withdrawn');
      expect(state.outcomes.marketing_email).toMatchObject({ dynamics: 'applied', mailchimp: 'applied' });
      const [event] = await ledger.listConsentEvents(key);
      expect(event?.evidence).toEqual({ channel: 'import', requestRef: 'file-7' });
    }
  });
});
