import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type { RectifyResult, SubjectIdentifiers } from '../../connectors/connector.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { startCliHub } from '../support/cli-hub.js';
import { cli, stubConnectors } from './cli-test-kit.js';

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now()}.${counter++}@example.com`;

/** The CLI's stand-in connectors, which rectify one record and note each address an erasure searched. */
function recordingStubs() {
  const stubs = stubConnectors();
  const searched: string[] = [];
  for (const system of ['dynamics', 'mailchimp'] as const) {
    const connector = stubs.connectors[system] as unknown as Record<string, unknown>;
    connector.rectify = async (): Promise<RectifyResult> => ({
      outcome: 'rectified',
      records: [{ kind: 'contact', id: `${system}-1`, result: 'rectified', before: {} }],
    });
    const find = connector.find as (subject: SubjectIdentifiers) => Promise<unknown>;
    connector.find = async (subject: SubjectIdentifiers) => {
      searched.push(subject.email);
      return find(subject);
    };
  }
  return { connectors: stubs.connectors as ConnectorSet, searched };
}

/**
 * Issue 18: `history`, `status`, `hold`, `release` and `erase` by an address a rectification moved away
 * from act on (and report) the person under the key they have now, and say under which key they were asked
 * and by which rectification it was re-keyed, by keys only. The real CLI, a real Temporal dev server.
 */
describe('the CLI follows a re-key', () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let temporal: typeof hub.temporal;
  let ledger: Ledger;
  const stubs = recordingStubs();

  beforeAll(async () => {
    hub = await startCliHub('cli-rekey-follow', stubs.connectors);
    temporal = hub.temporal;
    ledger = hub.ledger;
  });
  afterAll(() => hub?.close());

  it('history, status, hold, release and erase by the old address report the new key, the re-key and the rectification', async () => {
    const oldEmail = uniqueEmail('cli.old');
    const newEmail = uniqueEmail('cli.new');
    const secret = temporal.secrets.subjectKeySecret;
    const oldKey = subjectKeyFor(oldEmail, secret);
    const newKey = subjectKeyFor(newEmail, secret);
    const eventId = randomUUID();
    await ledger.appendConsentEvent({
      id: eventId,
      subjectKey: oldKey,
      purpose: 'marketing_email',
      decision: 'granted',
      occurredAt: '2026-01-05T10:00:00.000Z',
      recordedAt: '2026-01-05T10:00:01.000Z',
      source: 'form:signup',
      evidence: { policyVersion: 'privacy-2026-01' },
    });
    const rectified = await cli(
      'rectify',
      '--email',
      oldEmail,
      '--set',
      `email=${newEmail}`,
      '--wait',
      '--json',
    );
    expect(rectified.code).toBe(0);
    const rectificationId = (JSON.parse(rectified.stdout) as { requestId: string }).requestId;
    const outputs: string[] = [];
    const run = async (...args: string[]) => {
      const result = await cli(...args);
      outputs.push(result.stdout, result.stderr);
      expect(result.code).toBe(0);
      return result.stdout;
    };
    const rekey = { from: oldKey, to: newKey, rectificationRequestId: rectificationId };

    const history = JSON.parse(await run('history', '--email', oldEmail, '--json'));
    expect(history).toMatchObject({
      subjectKey: newKey,
      requestedUnder: { subjectKey: oldKey, rekeys: [rekey] },
      rekeys: [rekey],
    });
    expect(history.consentEvents.map((e: { id: string }) => e.id)).toEqual([eventId]);
    // Asked by the new address: the re-key that led there is part of the person's history.
    const text = await run('history', '--email', newEmail);
    expect(text).toContain('Re-keys (1)');
    expect(text).toContain(`${oldKey} -> ${newKey}  by rectification ${rectificationId}`);
    expect(await run('history', '--email', oldEmail)).toContain(
      `asked under an earlier address (subject ${oldKey})`,
    );

    const status = JSON.parse(await run('status', '--email', oldEmail, '--json'));
    expect(status).toMatchObject({ subjectKey: newKey, requestedUnder: { subjectKey: oldKey } });
    expect(Object.keys(status.purposes)).toEqual(['marketing_email']);

    const held = JSON.parse(await run('hold', '--email', oldEmail, '--reason', 'legal_claims', '--json'));
    expect(held).toMatchObject({ subjectKey: newKey, placed: true, requestedUnder: { subjectKey: oldKey } });
    expect((await ledger.getHold(newKey))?.reason).toBe('legal_claims');
    const released = JSON.parse(await run('release', '--email', oldEmail, '--json'));
    expect(released).toMatchObject({ subjectKey: newKey, requestedUnder: { subjectKey: oldKey } });
    expect((await ledger.getHold(newKey))?.releasedAt).toBeDefined();

    stubs.searched.length = 0;
    const receipt = JSON.parse(await run('erase', '--email', oldEmail, '--wait', '--json'));
    expect(receipt).toMatchObject({
      subjectKey: newKey,
      outcome: 'completed',
      requestedUnder: { subjectKey: oldKey, rekeys: [rekey] },
    });
    // The person was erased at the address they have now; the one they left was searched too (a vendor may
    // still hold it), by an erasure of its own that `--wait` waited for.
    expect(stubs.searched.length).toBeGreaterThan(0);
    expect(new Set(stubs.searched)).toEqual(new Set([newEmail, oldEmail]));
    const oldAddressErasure = receipt.movedRecords?.[0]?.erasureRequestId;
    expect(receipt.movedRecords).toEqual([expect.objectContaining({ subjectKey: oldKey })]);
    expect(receipt.movedRecordsNow).toEqual({ [oldAddressErasure]: 'completed' });
    expect((await ledger.getTombstone(newKey))?.firstRequestId).toBe(receipt.requestId);
    expect((await ledger.getTombstone(oldKey))?.firstRequestId).toBe(oldAddressErasure);
    const after = await run('history', '--email', oldEmail);
    expect(after).toContain(`Tombstone: erased`);
    for (const output of outputs) {
      expect(output).not.toContain(oldEmail);
      expect(output).not.toContain(newEmail);
    }
  });
});
