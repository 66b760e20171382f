import type { ConnectorSet } from '../../activities/create-activities.js';
import { RetryableVendorError } from '../../connectors/connector-errors.js';
import { demoGa4PropertyIds } from '../../sandboxes/demo-people.js';
import type { startVendorSandboxes } from './vendor-sandboxes.js';

/** The sandboxes' GA4 property, as a bare number (what the Google sandbox's quota counters are keyed by). */
export const googleSandboxProperty = (demoGa4PropertyIds[0] ?? '').replace('properties/', '');

/**
 * Makes Google's day short, for tests of the daily quota: the real Google connector's answer to a used-up
 * daily quota is told to come back after `resetAfterMs` instead of at midnight Pacific, and (while
 * `midnight.comes`) the sandbox's count of the day is set back to 0 one second after the refusal, as
 * Google's is at midnight. `refusals.count` counts the daily-quota refusals seen. Pass the result as
 * startHubWithVendors' `wrapConnectors`; give the workflows an attention deadline shorter than
 * `resetAfterMs`, so the wait is the workflow's durable timer, not an activity retry.
 */
export function shortGoogleDays(options: {
  resetAfterMs: number;
  midnight?: { comes: boolean };
  refusals?: { count: number };
}) {
  const midnight = options.midnight ?? { comes: true };
  return (
    connectors: ConnectorSet,
    vendors: Awaited<ReturnType<typeof startVendorSandboxes>>,
  ): ConnectorSet => {
    const google = connectors.google;
    if (!google) throw new Error('the Google sandbox gave no connector');
    const newDay = <T>(work: () => Promise<T>) =>
      work().catch((error: unknown) => {
        if (error instanceof RetryableVendorError && /daily/i.test(error.reason)) {
          if (options.refusals) options.refusals.count++;
          Object.assign(error, { retryAfterMs: options.resetAfterMs });
          if (midnight.comes) {
            setTimeout(() => {
              void vendors.google.control.seed({ quotaUsed: { properties: { [googleSandboxProperty]: 0 } } });
            }, 1_000);
          }
        }
        throw error;
      });
    return {
      ...connectors,
      google: {
        ...google,
        erase: (subject, options) => newDay(() => google.erase(subject, options)),
        applyConsentState: (subject, request, options) =>
          newDay(() => {
            if (!google.applyConsentState) throw new Error('no applyConsentState');
            return google.applyConsentState(subject, request, options);
          }),
      },
    };
  };
}
