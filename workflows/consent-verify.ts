import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { ConsentVerification, DecisionsInForce } from '../connectors/connector.js';
import type { SystemName } from '../domain/systems.js';
import { nonRetryableErrorTypes } from './erasure-activity-options.js';

export interface ConsentVerifyInput {
  subjectKey: string;
  /** Reaches Temporal only encrypted, like every workflow input. */
  email: string;
  decisions: DecisionsInForce;
  systems: SystemName[];
}

export type ConsentVerifyResult = Partial<Record<SystemName, ConsentVerification | { error: string }>>;

/** A person waits at a terminal for this: a few quick tries, then the system's error is the answer. */
const reads = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 3, nonRetryableErrorTypes },
});

/**
 * Reads each system's consent fields now (on the worker, which holds the vendor credentials; the CLI and
 * the API hold none) and compares them with what the decisions in force call for.
 */
export async function consentVerifyWorkflow(input: ConsentVerifyInput): Promise<ConsentVerifyResult> {
  const answers = await Promise.all(
    input.systems.map(async (system): Promise<[SystemName, ConsentVerification | { error: string }]> => {
      try {
        const verification = await reads.verifyConsentInSystem({
          system,
          subjectKey: input.subjectKey,
          subject: { email: input.email, gaClientIds: [], gaUserIds: [] },
          decisions: input.decisions,
        });
        return [system, verification];
      } catch (error) {
        const cause = (error as { cause?: { message?: string } }).cause;
        return [system, { error: cause?.message ?? (error as Error).message }];
      }
    }),
  );
  return Object.fromEntries(answers);
}
