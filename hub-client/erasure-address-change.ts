import { WorkflowNotFoundError } from '@temporalio/client';
import { normaliseEmail } from '../domain/email.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import { erasureAddressChangedSignal, erasureWorkflowId } from '../workflows/erasure-definitions.js';
import type { HubClientContext } from './erasures.js';

/**
 * A vendor moved a person to another address (Mailchimp's `upemail`) while their erasure runs (restricting
 * under a legal hold, or deleting): the erasure is told, records the change in its receipt and looks for the
 * person's records under the new address too. Answers the erasure's workflow id, or undefined when no
 * erasure of the person is running (the change is then a rectification's to carry). Subject keys only leave
 * this function; the new address travels inside the signal's encrypted payload.
 */
export async function tellRunningErasureOfAddressChange(
  context: Pick<HubClientContext, 'client' | 'subjectKeySecret'>,
  change: { email: string; newEmail: string; source: string; changedAt: string },
): Promise<{ workflowId: string; subjectKey: string; newSubjectKey: string } | undefined> {
  const subjectKey = subjectKeyFor(change.email, context.subjectKeySecret);
  const newEmail = normaliseEmail(change.newEmail);
  const newSubjectKey = subjectKeyFor(newEmail, context.subjectKeySecret);
  const workflowId = erasureWorkflowId(subjectKey);
  try {
    await context.client.workflow.getHandle(workflowId).signal(erasureAddressChangedSignal, {
      subjectKey,
      newEmail,
      newSubjectKey,
      source: change.source,
      changedAt: change.changedAt,
    });
  } catch (error) {
    // No erasure of the person, or it has finished.
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
  return { workflowId, subjectKey, newSubjectKey };
}
