import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { WorkStarter } from '../activities/reconciliation-activities.js';
import { durationMs, type HubConfig } from '../config/hub-config.js';
import { consentChangeRequestSchema } from '../domain/consent.js';
import type { Ledger } from '../ledger/ledger.js';
import { consentWorkflowId } from '../workflows/consent-definitions.js';
import { erasureWorkflowId } from '../workflows/erasure-definitions.js';
import {
  type ConsentClientContext,
  handOverConsent,
  reapplyConsent,
  recordConsentChange,
} from './consent.js';
import { recordConsentBatch } from './consent-batch.js';
import { requestErasure } from './erasures.js';
import { runningUnderLegacyKey } from './legacy-key-workflows.js';
import { endAccessRequestsOfErased, isRunning, openSubjectWorkflows, shredWhenClosed } from './shredding.js';

/** What every caller that starts or steers workflows needs, from the hub's configuration. */
export function clientContextFor(client: Client, config: HubConfig): ConsentClientContext {
  const timings = {
    attentionAfter: config.CONSENT_HUB_ATTENTION_AFTER,
    operatorDeadline: config.CONSENT_HUB_OPERATOR_DEADLINE,
    heartbeatTimeout: config.CONSENT_HUB_HEARTBEAT_TIMEOUT,
  };
  return {
    client,
    taskQueue: config.CONSENT_HUB_TASK_QUEUE,
    subjectKeySecret: config.CONSENT_HUB_SUBJECT_KEY_SECRET,
    timings,
    receivedAtFloorDays: config.CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS,
    consentTimings: { ...timings, idleAfter: config.CONSENT_HUB_SUBJECT_IDLE_AFTER },
    exportTtl: config.CONSENT_HUB_EXPORT_TTL,
    intakeBuffer: {
      windowMs: durationMs(config.CONSENT_HUB_INTAKE_BUFFER_WINDOW),
      bulkFrom: config.CONSENT_HUB_WEBHOOK_BULK_FROM,
    },
  };
}

/** Reconciliation's repairs go through the same entry points as a person's own requests. */
export function workStarterFor(
  context: ConsentClientContext,
  /**
   * The worker's ledger: with it a change for an address a rectification moved away from goes to the
   * person's workflow under their new key, as the API's and the CLI's changes do (recordConsentChange).
   */
  ledger?: Ledger,
): WorkStarter {
  return {
    erase: (input) => requestErasure(context, input),
    changeConsent: (input, stableEventId, options) =>
      recordConsentChange(context, input, stableEventId, {
        recordedAt: options?.recordedAt,
        ...(options?.holders?.length ? { holders: options.holders } : {}),
        ...(ledger ? { ledger } : {}),
      }),
    changeConsentBatch: async ({ batchId, changes }) => {
      try {
        await recordConsentBatch(
          context,
          changes.map((change, index) => ({
            index,
            change: consentChangeRequestSchema.parse(change.input),
            eventId: change.eventId,
          })),
          { batchId, ...(ledger ? { ledger } : {}) },
        );
        return { started: true };
      } catch (error) {
        // A repeat of the same page (a retried activity): the batch was started the first time.
        if (error instanceof WorkflowExecutionAlreadyStartedError) return { started: false };
        throw error;
      }
    },
    reapplyConsent: (input) => reapplyConsent(context, input),
    shredWhenClosed: (input) => shredWhenClosed(context, input),
    isRunning: (workflowId) => isRunning(context.client, workflowId),
    runningUnderLegacyKey: async ({ email, kind }) =>
      (
        await runningUnderLegacyKey(
          context.client,
          email,
          context.subjectKeySecret,
          kind === 'consent' ? consentWorkflowId : erasureWorkflowId,
        )
      )?.subjectKey,
    handOverConsent: (input) => handOverConsent(context, input),
    openSubjectWorkflows: (input) => openSubjectWorkflows(context.client, input),
    endAccessRequestsOfErased: (input) => endAccessRequestsOfErased(context.client, input),
  };
}
