import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCalendarMonths } from '../../domain/request-deadline.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startCliHub } from '../support/cli-hub.js';
import { cli, stubConnectors } from './cli-test-kit.js';

let counter = 0;
const uniqueEmail = () => `hold-cli.${Date.now()}.${counter++}@example.com`;

describe('consent-hub hold and release, and erase --wait for a held person', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let temporal: typeof hub.temporal;

  beforeAll(async () => {
    hub = await startCliHub('cli-hold', stubConnectors().connectors);
    temporal = hub.temporal;
  });
  afterAll(() => hub?.close());

  it('exits 2 with one line naming the subject key, not the address, for a person never held', async () => {
    const email = uniqueEmail();
    const run = await cli('release', '--email', email);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `Subject ${subjectKeyFor(email, temporal.secrets.subjectKeySecret)} is not on hold`,
    );
    expect(run.stdout + run.stderr).not.toContain(email);
  });

  it('releases a held person once (exit 0), and exits 2 on the second release, with --json too', async () => {
    const email = uniqueEmail();
    expect((await cli('hold', '--email', email, '--reason', 'legal_claims')).code).toBe(0);
    const released = await cli('release', '--email', email, '--json');
    expect(released.code).toBe(0);
    expect(JSON.parse(released.stdout)).toMatchObject({ hold: { releaseReason: 'resolved' } });
    const again = await cli('release', '--email', email, '--json');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not on hold: nothing was released');
    expect(again.stdout + again.stderr).not.toContain(email);
  });

  it('history lists every hold with its release, also holds that met no erasure and one placed right after a release', async () => {
    const email = uniqueEmail();
    expect(
      (await cli('hold', '--email', email, '--reason', 'legal_claims', '--operator', 'ops:a')).code,
    ).toBe(0);
    expect((await cli('release', '--email', email, '--operator', 'ops:b')).code).toBe(0);
    expect(
      (await cli('hold', '--email', email, '--reason', 'authority_order', '--operator', 'ops:c')).code,
    ).toBe(0);
    const text = await cli('history', '--email', email);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Legal holds (2)');
    expect(text.stdout).toMatch(
      /placed {4}legal_claims by ops:a\n.*released {2}resolved by ops:b\n.*placed {4}authority_order by ops:c\n/,
    );
    expect(text.stdout).not.toContain(email);
    const json = JSON.parse((await cli('history', '--email', email, '--json')).stdout);
    expect(json.holds.map((h: { reason: string; releasedBy?: string }) => [h.reason, h.releasedBy])).toEqual([
      ['legal_claims', 'ops:b'],
      ['authority_order', undefined],
    ]);
  });

  it('erase --wait for a held person exits 0 once the data is restricted, showing on_hold (text and --json, with the deadline)', async () => {
    const email = uniqueEmail();
    expect((await cli('hold', '--email', email, '--reason', 'legal_obligation')).code).toBe(0);
    const text = await cli('erase', '--email', email, '--wait');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Erasure \S+ is on_hold/);
    expect(text.stdout).toContain('waiting for the hold to be released');
    expect(text.stdout).toMatch(/received \S+, due \S+/);

    // A second request joins the held erasure: the same answer, in JSON.
    const json = await cli('erase', '--email', email, '--wait', '--json');
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as { status: string; receivedAt: string; dueAt: string };
    expect(shown.status).toBe('on_hold');
    expect(shown.dueAt).toBe(addCalendarMonths(new Date(shown.receivedAt), 1).toISOString());

    expect((await cli('release', '--email', email)).code).toBe(0);
  });

  it('receipt --log shows the hold placed, the restriction and the release in time order, text and --json', async () => {
    const email = uniqueEmail();
    expect((await cli('hold', '--email', email, '--reason', 'legal_claims')).code).toBe(0);
    const held = JSON.parse((await cli('erase', '--email', email, '--wait', '--json')).stdout) as {
      requestId: string;
    };
    expect((await cli('release', '--email', email)).code).toBe(0);
    let log: { event: string; at: string; reason?: string; by?: string }[] = [];
    for (let i = 0; i < 100 && !log.some((e) => e.event === 'completed'); i++) {
      const run = await cli('receipt', held.requestId, '--log', '--json');
      log = (JSON.parse(run.stdout) as { log?: typeof log }).log ?? [];
      if (!log.some((e) => e.event === 'completed')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(log.map((e) => e.event)).toEqual([
      'hold_placed',
      'requested',
      'restricted',
      'hold_released',
      'completed',
    ]);
    expect(log[0]?.reason).toBe('legal_claims');
    expect(log[3]?.by).toMatch(/^cli:/);
    const text = await cli('receipt', held.requestId, '--log');
    expect(text.stdout).toMatch(/hold_placed \(reason legal_claims\)/);
    expect(text.stdout).toMatch(/hold_released \(by cli:\S+, reason resolved\)/);
  });
});
