import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ConsentChangeSignal, ConsentReapplySignal, ConsentStatusView } from '../domain/consent.js';
import type { OperatorClose, OperatorRetry } from '../domain/erasure.js';

export const consentChangeSignal = defineSignal<[ConsentChangeSignal]>('consentChange');
/** Reconciliation's repair: write the person's state to these systems again (a failed withdrawal, an opt-in that contradicts one). */
export const consentReapplySignal = defineSignal<[ConsentReapplySignal]>('consentReapply');
export const consentStatusQuery = defineQuery<ConsentStatusView>('consentStatus');
/**
 * Where one consent change stands in this run: `done` once every system it concerns has written it (or
 * withheld it with a recorded failure or an operator's close), or it wrote nothing (superseded by a newer
 * change, refused after an erasure); `open` while a system still has to; `unknown` when this run never saw it
 * (not yet taken in, or handled by an earlier run).
 */
export const consentChangeStateQuery = defineQuery<'unknown' | 'open' | 'done', [string]>(
  'consentChangeState',
);
export const consentWorkflowId = (subjectKey: string) => `consent-${subjectKey}`;

/** The same operator controls as an erasure's, by the same names, so `consent-hub retry/close` serve both. */
export const retryConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorRetry]>('retrySystem');
export const closeConsentSystemUpdate = defineUpdate<ConsentStatusView, [OperatorClose]>('closeSystem');
