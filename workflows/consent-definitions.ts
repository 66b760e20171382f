import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  ConsentChangeSignal,
  ConsentHandOverSignal,
  ConsentReapplySignal,
  ConsentRekeySignal,
  ConsentStatusView,
} from '../domain/consent.js';
import type { OperatorClose, OperatorRetry } from '../domain/erasure.js';

export const consentChangeSignal = defineSignal<[ConsentChangeSignal]>('consentChange');
/** Reconciliation's repair: write the person's state to these systems again (a failed withdrawal, an opt-in that contradicts one). */
export const consentReapplySignal = defineSignal<[ConsentReapplySignal]>('consentReapply');
/** A rectification re-keyed the person: hand everything to the new key's workflow and end (consent.ts). */
export const consentRekeySignal = defineSignal<[ConsentRekeySignal]>('consentRekey');
/** The old key's workflow hands its pending changes and unwritten systems to the new key's. */
export const consentHandOverSignal = defineSignal<[ConsentHandOverSignal]>('consentHandOver');
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
