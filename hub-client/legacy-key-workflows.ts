import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { legacySubjectKeysFor } from '../privacy/subject-key.js';

/** A workflow still running under a key an older version gave this mailbox. */
export interface LegacyKeyWorkflow {
  subjectKey: string;
  workflowId: string;
  runId: string;
}

/**
 * The first workflow still running under one of the keys older versions gave the other spellings of this
 * mailbox (legacySubjectKeysFor: before the canonical key, each spelling had its own), with `idFor` naming the
 * workflow (`erasure-<key>`, `consent-<key>`). Undefined when none runs: a mailbox with one spelling costs no
 * call. Such a run started before an upgrade; a new request for the person joins it rather than running a
 * second workflow beside it.
 */
export async function runningUnderLegacyKey(
  client: Client,
  email: string,
  secret: string,
  idFor: (subjectKey: string) => string,
): Promise<LegacyKeyWorkflow | undefined> {
  for (const subjectKey of legacySubjectKeysFor(email, secret)) {
    const workflowId = idFor(subjectKey);
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      if (description.status.name === 'RUNNING') return { subjectKey, workflowId, runId: description.runId };
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return undefined;
}
