import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startCliHub } from '../support/cli-hub.js';
import { cli, stubConnectors } from './cli-test-kit.js';

/**
 * Issue 18: a vendor's address change the hub refused is an operator's to close. The real CLI lists it in
 * `history` (and `--json`) and `requests --needs-attention` until `acknowledge` records how it was resolved;
 * a second acknowledgement is refused. Keys and codes only.
 */
describe('refused address changes in the CLI', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;

  beforeAll(async () => {
    hub = await startCliHub('cli-address-refusals', stubConnectors().connectors as ConnectorSet);
  });
  afterAll(() => hub?.close());

  it('history and requests --needs-attention show an open refusal; acknowledge closes it once', async () => {
    const email = `cli.refused.${Date.now()}@example.com`;
    const secret = hub.temporal.secrets.subjectKeySecret;
    const subjectKey = subjectKeyFor(email, secret);
    const newSubjectKey = subjectKeyFor(`cli.elsewhere.${Date.now()}@example.com`, secret);
    const id = `mailchimp-webhook:${randomBytes(32).toString('hex')}`;
    await hub.ledger.recordAddressChangeRefusal({
      id,
      subjectKey,
      newSubjectKey,
      source: 'mailchimp:upemail',
      reason: 'vendor_conflict',
      requestId: '6f1c2a4e-1b2c-4d5e-8f90-0123456789ab',
      recordedAt: '2026-03-01T09:00:00.000Z',
    });

    const history = await cli('history', '--email', email);
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('Refused address changes (1)');
    expect(history.stdout).toMatch(
      new RegExp(`mailchimp:upemail vendor_conflict  ${subjectKey} -> ${newSubjectKey}.*OPEN`),
    );
    const historyJson = JSON.parse((await cli('history', '--email', email, '--json')).stdout) as {
      addressChangeRefusals: { id: string; reason: string }[];
    };
    expect(historyJson.addressChangeRefusals).toEqual([
      expect.objectContaining({ id, reason: 'vendor_conflict' }),
    ]);

    const listed = await cli('requests', '--needs-attention', '--json');
    expect(listed.code).toBe(0);
    const open = JSON.parse(listed.stdout) as { addressChangeRefusals: { id: string }[] };
    expect(open.addressChangeRefusals.map((r) => r.id)).toContain(id);
    expect((await cli('requests', '--needs-attention')).stdout).toContain(`(id ${id})`);

    const acknowledged = await cli(
      'acknowledge',
      id,
      '--resolution',
      'rectified_again',
      '--operator',
      'ops:ann',
    );
    expect(acknowledged.code).toBe(0);
    expect(acknowledged.stdout).toMatch(/acknowledged .* by ops:ann: rectified_again/);
    const again = await cli('acknowledge', id, '--resolution', 'other', '--operator', 'ops:bob');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('acknowledged already, by ops:ann');

    const after = JSON.parse((await cli('requests', '--needs-attention', '--json')).stdout) as {
      addressChangeRefusals: { id: string }[];
    };
    expect(after.addressChangeRefusals.map((r) => r.id)).not.toContain(id);
    expect((await cli('history', '--email', email)).stdout).toMatch(
      /acknowledged \S+ by ops:ann: rectified_again/,
    );
    // The output names keys, never the address.
    expect(history.stdout).not.toContain(email);
  });
});
