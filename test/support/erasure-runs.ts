import type { ErasureStatusView } from '../../domain/erasure.js';
import type { SystemName } from '../../domain/systems.js';
import { type HubClientContext, lookupErasure } from '../../hub-client/erasures.js';
import type { startHubWithVendors } from './hub-with-vendors.js';
import { operatorWaitTimings } from './requests-needing-attention.js';
import { waitFor } from './waiting.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

/** The hub client context of `hub`'s Temporal with operatorWaitTimings (nothing needs attention mid-test). */
export function erasureContext(hub: Hub): HubClientContext {
  return { ...hub.temporal.context(), timings: { ...operatorWaitTimings } };
}

/**
 * The status of open erasure `requestId` once `test` holds for it, read every `everyMs` ms up to `tries`
 * times (default 240 × 250 ms); throws when it never does (a closed erasure never matches).
 */
export async function erasureStatusWhen(
  context: HubClientContext,
  requestId: string,
  test: (status: ErasureStatusView) => boolean,
  options: { tries?: number; everyMs?: number } = {},
): Promise<ErasureStatusView> {
  return waitFor(
    `erasure ${requestId}'s status to match`,
    async () => {
      const found = await lookupErasure(context, requestId);
      return found.state === 'open' && test(found.status) ? found.status : undefined;
    },
    options,
  );
}

/**
 * The failure reason `system` keeps once open erasure `requestId` waits for an operator there
 * (erasureStatusWhen); undefined when it needs attention without a reason.
 */
export async function erasureFailureReason(
  context: HubClientContext,
  requestId: string,
  system: SystemName,
): Promise<string | undefined> {
  const status = await erasureStatusWhen(
    context,
    requestId,
    (view) => view.systems[system].status === 'needs_attention',
  );
  return status.systems[system].failure?.reason;
}
