import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorSet } from '../../activities/create-activities.js';
import type {
  EraseResult,
  FindResult,
  RectifyResult,
  SubjectIdentifiers,
} from '../../connectors/connector.js';
import { NonRetryableVendorError, RetryableVendorError } from '../../connectors/connector-errors.js';
import type { ErasureReceipt } from '../../domain/erasure.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import type { erasureWorkflow } from '../../workflows/erasure.js';
import {
  erasureStatusQuery,
  erasureWorkflowId,
  retrySystemUpdate,
} from '../../workflows/erasure-definitions.js';
import { startCliHub } from '../support/cli-hub.js';
import { uniqueEmail } from '../support/unique-email.js';
import { waitFor } from '../support/waiting.js';
import { cli, stubConnectors } from './cli-test-kit.js';

/**
 * Stand-in connectors whose rectification moves Dynamics and is refused by Mailchimp (a half-done
 * rectification, once an operator closes Mailchimp), and whose Dynamics search for an address in `held`
 * answers as `held` says: 503 (the vendor is down) or a 400 (an operator must act).
 */
function halfDoneStubs() {
  const stubs = stubConnectors();
  const held = new Map<string, 'unavailable' | 'refused'>();
  const dynamics = stubs.connectors.dynamics as unknown as Record<string, unknown>;
  dynamics.rectify = async (): Promise<RectifyResult> => ({
    outcome: 'rectified',
    records: [{ kind: 'contact', id: 'dynamics-1', result: 'rectified', before: {} }],
  });
  const mailchimp = stubs.connectors.mailchimp as unknown as Record<string, unknown>;
  mailchimp.rectify = async (): Promise<RectifyResult> => {
    throw new NonRetryableVendorError({
      system: 'mailchimp',
      operation: 'rectify',
      status: 400,
      reason: 'Invalid Resource',
    });
  };
  const answer = (subject: SubjectIdentifiers, operation: 'find' | 'erase') => {
    const heldAs = held.get(subject.email);
    if (heldAs === 'unavailable')
      throw new RetryableVendorError({ system: 'dynamics', operation, status: 503, reason: 'down' });
    if (heldAs === 'refused')
      throw new NonRetryableVendorError({ system: 'dynamics', operation, status: 400, reason: 'no' });
  };
  const find = dynamics.find as (subject: SubjectIdentifiers) => Promise<FindResult>;
  dynamics.find = async (subject: SubjectIdentifiers) => {
    answer(subject, 'find');
    return find(subject);
  };
  return { connectors: stubs.connectors as ConnectorSet, held };
}

/**
 * Issue 18's leftover: `erase --wait` after a half-done rectification answers for the erasure of the records
 * it moved (the receipt's `movedRecords`) too: it waits for it, exits 0 only once it completed, and 3 when
 * it needs an operator. The real CLI, a real Temporal dev server, stand-in connectors.
 */
describe('erase --wait follows the erasure of moved records', { timeout: 180_000 }, () => {
  let hub: Awaited<ReturnType<typeof startCliHub>>;
  let ledger: Ledger;
  const stubs = halfDoneStubs();

  beforeAll(async () => {
    hub = await startCliHub('cli-erase-wait-moved', stubs.connectors);
    ledger = hub.ledger;
  });
  afterAll(() => hub?.close());

  /** Rectifies `oldEmail` to `newEmail`, closing Mailchimp (which refused) as an operator would. */
  const halfDone = async (oldEmail: string, newEmail: string) => {
    const started = await cli('rectify', '--email', oldEmail, '--set', `email=${newEmail}`, '--json');
    expect(started.code).toBe(0);
    const { requestId } = JSON.parse(started.stdout) as { requestId: string };
    await waitFor('Mailchimp needs attention', async () => {
      const shown = await cli('receipt', requestId, '--json');
      return shown.stdout.includes('needs_attention') ? true : undefined;
    });
    const closed = await cli('close', requestId, '--system', 'mailchimp', '--reason', 'vendor refused');
    expect(closed.code).toBe(0);
    await waitFor('the rectification ends', async () =>
      (await ledger.getRectification(requestId)) ? true : undefined,
    );
    const receipt = await ledger.getRectification(requestId);
    expect(receipt?.rekeyed).toBeUndefined();
  };

  it('waits (through attention) until the moved records are erased, and exits 0 only then', async () => {
    const oldEmail = uniqueEmail('wait.old');
    const newEmail = uniqueEmail('wait.new');
    const newKey = subjectKeyFor(newEmail, hub.temporal.secrets.subjectKeySecret);
    await halfDone(oldEmail, newEmail);
    stubs.held.set(newEmail, 'unavailable');
    const running = cli('erase', '--email', oldEmail, '--wait', '--wait-through-attention', '--json');
    // The moved records' erasure cannot reach Dynamics and waits for an operator, long after the
    // person's own erasure has its receipt; --wait is still waiting then.
    const moved = hub.temporal.client.workflow.getHandle<typeof erasureWorkflow>(erasureWorkflowId(newKey));
    await waitFor(
      'the moved records’ erasure needs attention',
      async () => ((await moved.query(erasureStatusQuery)).status === 'needs_attention' ? true : undefined),
      { retryErrors: true },
    );
    stubs.held.delete(newEmail);
    const retriedAt = new Date().toISOString();
    await moved.executeUpdate(retrySystemUpdate, { args: [{ system: 'dynamics', operator: 'ops:test' }] });
    const run = await running;
    expect(run.code).toBe(0);
    const receipt = JSON.parse(run.stdout) as ErasureReceipt & { movedRecordsNow: Record<string, string> };
    expect(receipt.outcome).toBe('completed');
    expect(receipt.completedAt < retriedAt).toBe(true);
    const movedRecords = receipt.movedRecords?.[0];
    expect(movedRecords?.subjectKey).toBe(newKey);
    const movedId = movedRecords?.erasureRequestId ?? '';
    expect(receipt.movedRecordsNow).toEqual({ [movedId]: 'completed' });
    const movedReceipt = await ledger.getReceipt(movedId);
    expect(movedReceipt?.outcome).toBe('completed');
    expect(movedReceipt?.completedAt && movedReceipt.completedAt > retriedAt).toBe(true);
    expect(run.stdout + run.stderr).not.toContain(newEmail);
  });

  it('exits 3 when the erasure of the moved records needs an operator, and says which', async () => {
    const oldEmail = uniqueEmail('attn.old');
    const newEmail = uniqueEmail('attn.new');
    await halfDone(oldEmail, newEmail);
    stubs.held.set(newEmail, 'refused');
    const run = await cli('erase', '--email', oldEmail, '--wait');
    expect(run.code).toBe(3);
    const movedId = /erased by its own erasure (\S+) \(now: needs_attention\)/.exec(run.stdout)?.[1];
    expect(movedId).toBeDefined();
    expect(run.stdout).toContain(`moved records' erasure ${movedId}: needs_attention`);
    expect(run.stdout).not.toContain(newEmail);
    stubs.held.delete(newEmail);
  });
});
