import { expect } from 'vitest';
import type { HubClientContext } from '../../hub-client/erasures.js';
import {
  awaitRectification,
  lookupRectification,
  requestRectification,
} from '../../hub-client/rectifications.js';
import type { Ledger } from '../../ledger/ledger.js';
import { closeSystemUpdate } from '../../workflows/erasure-definitions.js';
import type { startHubWithVendors } from './hub-with-vendors.js';
import { waitFor } from './waiting.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

/**
 * A rectification of `oldEmail` to `newEmail` left half-done: Dynamics moved, Mailchimp refused (a 400 from
 * the sandbox) and closed by an operator once it needed attention (polled every 100 ms, `tries` times).
 * Asserts Dynamics was rectified and the ledger not re-keyed; returns the receipt.
 */
export async function halfDoneRectification(
  hub: Hub,
  context: HubClientContext,
  oldEmail: string,
  newEmail: string,
  options: { tries: number },
) {
  await hub.vendors.mailchimp.control.fail({ method: 'PATCH', path: '/lists/', status: 400, count: 1 });
  const started = await requestRectification(context, {
    email: oldEmail,
    set: { email: newEmail },
    requestedBy: 'privacy-inbox#186',
    requestedAt: new Date().toISOString(),
  });
  await waitFor(
    'Mailchimp waits for an operator',
    async () => {
      const found = await lookupRectification(context, hub.ledger, started.requestId);
      return found.state === 'open' && found.status.systems.mailchimp.status === 'needs_attention'
        ? true
        : undefined;
    },
    { tries: options.tries, everyMs: 100 },
  );
  await context.client.workflow.getHandle(started.workflowId).executeUpdate(closeSystemUpdate, {
    args: [{ system: 'mailchimp', reason: 'vendor refused', operator: 'ops:test' }],
  });
  const receipt = await awaitRectification(context, started);
  expect(receipt.systems.dynamics.status).toBe('rectified');
  expect(receipt.rekeyed).toBeUndefined();
  return receipt;
}

/** Rectification `requestId`'s receipt once the ledger keeps it, read every 250 ms up to 240 times. */
export function rectificationReceiptWhenKept(ledger: Ledger, requestId: string) {
  return waitFor(`rectification ${requestId}'s receipt in the ledger`, () =>
    ledger.getRectification(requestId),
  );
}
