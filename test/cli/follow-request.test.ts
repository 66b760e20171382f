import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { takeRequestedExitCode } from '../../cli/exit-codes.js';
import { followRequest } from '../../cli/follow-request.js';

interface Receipt {
  outcome: string;
}
const status = { status: 'running', systems: { dynamics: { status: 'running', attempts: 1 } } };

/** A request whose status can no longer be asked (a finished erasure whose keys were shredded). */
const queryOfFinished = () => Promise.reject(new Error('QueryNotRegisteredError: Encoded failure'));

function follow(result: Promise<Receipt>, liveStatus: () => Promise<typeof status>, wait?: number) {
  const finished: Receipt[] = [];
  const done = followRequest({
    result,
    liveStatus,
    json: true,
    waitThroughAttention: false,
    printStatus: () => {},
    finish: (receipt: Receipt) => {
      finished.push(receipt);
    },
    ...(wait === undefined ? {} : { resultAfterFailedLookMs: wait }),
  });
  return { done, finished };
}

describe('--wait follows a request to its receipt (cli/follow-request.ts)', () => {
  afterEach(() => takeRequestedExitCode());

  it('ends with the receipt when the request finished between two looks and its status can no longer be asked', async () => {
    // The result arrives after the poll's look failed: on a loaded machine, seconds after the workflow ended.
    const result = delay(1_500).then(() => ({ outcome: 'completed' }));
    const { done, finished } = follow(result, queryOfFinished);
    await expect(done).resolves.toBeUndefined();
    expect(finished).toEqual([{ outcome: 'completed' }]);
  });

  it('throws the failed look when no result comes within the wait: a request still running is not hidden', async () => {
    const never = new Promise<Receipt>(() => {});
    const { done, finished } = follow(never, queryOfFinished, 200);
    await expect(done).rejects.toThrow(/QueryNotRegisteredError/);
    expect(finished).toEqual([]);
  });

  it('throws the workflow failure that arrives after a failed look, not a receipt', async () => {
    const failed = delay(1_300).then(() => Promise.reject(new Error('workflow failed')));
    failed.catch(() => {});
    const { done, finished } = follow(failed, queryOfFinished);
    await expect(done).rejects.toThrow('workflow failed');
    expect(finished).toEqual([]);
  });
});
