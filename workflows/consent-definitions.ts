import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConsentChangeSignal, ConsentStatusView } from '../domain/consent.js';
import type { OperatorClose, OperatorRetry } from '../domain/erasure.js';

export const consentChangeSignal = defineSignal<[ConsentChangeSignal]>('consentChange');
export const consentStatusQuery = defineQuery<ConsentStatusView>('consentStatus');
export const consentWorkflowId = (subjectKey: string) => `consent-${subjectKey}`;

/** The same operator controls as an erasure's, by the same names, so `consent-hub retry/close` serve both. */
export const retryConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorRetry]>('retrySystem');
export const closeConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorClose]>('closeSystem');
