import { defineSignal, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { dueAtAttribute } from './search-attribute-keys.js';

/**
 * Sent by hub-client when a request's deadline moves (`consent-hub extend`): the workflow publishes the new
 * `DueAt`. The ledger holds the deadline itself; this keeps Temporal's visibility in step with it.
 */
export const requestDeadlineSignal = defineSignal<[{ dueAt: string }]>('requestDeadlineChanged');

/**
 * Wires a request workflow (erasure, access, rectification ...) to follow its deadline: call once at the
 * start, next to the other handlers. Only search attributes change, so workflows already running replay.
 */
export function followRequestDeadline(): void {
  setHandler(requestDeadlineSignal, ({ dueAt }) => {
    upsertSearchAttributes([{ key: dueAtAttribute, value: new Date(dueAt) }]);
  });
}
