import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConsentChangeSignal, ConsentReapplySignal, ConsentStatusView } from '../domain/consent.js';
import type { OperatorClose, OperatorRetry } from '../domain/erasure.js';

export const consentChangeSignal = defineSignal<[ConsentChangeSignal]>('consentChange');
/** Reconciliation's repair: write the person's state to these systems again (a failed withdrawal, an opt-in that contradicts one). */
export const consentReapplySignal = defineSignal<[ConsentReapplySignal]>('consentReapply');
export const consentStatusQuery = defineQuery<ConsentStatusView>('consentStatus');
export const consentWorkflowId = (subjectKey: string) => `consent-${subjectKey}`;

/** The same operator controls as an erasure's, by the same names, so `consent-hub retry/close` serve both. */
export const retryConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorRetry]>('retrySystem');
export const closeConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorClose]>('closeSystem');
