import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CallDropped, runWithCallSignal } from '../../../connectors/call-signal.js';
import { classifyGoogleError } from '../../../connectors/google/errors.js';
import { paceForProperty } from '../../../connectors/google/pacing.js';

describe('Google pacing drops calls whose activity attempt ended while they queued', () => {
  it('never sends a queued call once its attempt is cancelled or timed out, and frees the caller at once', async () => {
    const property = `properties/${Date.now()}`;
    const rate = 2; // one slot every 500 ms
    const sent: string[] = [];
    const send = (name: string) => async () => {
      sent.push(name);
      return name;
    };
    const first = paceForProperty(property, rate, send('first'));
    const attempt = new AbortController();
    const queued = runWithCallSignal(attempt.signal, () => paceForProperty(property, rate, send('queued')));
    const later = paceForProperty(property, rate, send('later'));
    attempt.abort(new Error('start-to-close timeout'));
    const started = Date.now();
    await expect(queued).rejects.toBeInstanceOf(CallDropped);
    // Rejected at the abort, not when the slot came.
    expect(Date.now() - started).toBeLessThan(400);
    expect(await first).toBe('first');
    expect(await later).toBe('later');
    await delay(600);
    expect(sent).toEqual(['first', 'later']);
  });

  it('refuses at once a call made after its attempt already ended', async () => {
    const ended = AbortSignal.abort();
    let called = false;
    await expect(
      paceForProperty(
        'properties/1',
        1,
        async () => {
          called = true;
        },
        ended,
      ),
    ).rejects.toBeInstanceOf(CallDropped);
    expect(called).toBe(false);
  });

  it('classifies a dropped call as retryable: nothing reached Google, the next attempt sends it', () => {
    const failure = classifyGoogleError(new CallDropped('not sent'), 'erase');
    expect(failure.retryable).toBe(true);
    expect(failure.system).toBe('google');
  });
});
