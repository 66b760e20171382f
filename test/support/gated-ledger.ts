import type { Ledger } from '../../ledger/ledger.js';

/** A call the test stopped on its way into the ledger: its arguments, and how to let it through. */
export interface HeldCall {
  /** Resolves with the call's arguments once the call arrives (it waits there until released). */
  arrived: Promise<unknown[]>;
  release(): void;
}

/**
 * Wraps a ledger so that a test can stop the next call of one method (the receipt's write, say) until it
 * says so: a way to make something happen at an exact point of a workflow, such as a request that arrives
 * while the receipt is being written. Every other call goes straight through.
 */
export function gatedLedger(ledger: Ledger): { ledger: Ledger; hold(method: keyof Ledger): HeldCall } {
  const holds = new Map<PropertyKey, { arrived: (args: unknown[]) => void; released: Promise<void> }>();
  const gated = new Proxy(ledger, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const hold = holds.get(property);
        if (hold) {
          holds.delete(property);
          hold.arrived(args);
          await hold.released;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return {
    ledger: gated,
    hold(method) {
      let arrived!: (args: unknown[]) => void;
      let release!: () => void;
      const arrival = new Promise<unknown[]>((resolve) => {
        arrived = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.set(method, { arrived, released });
      return { arrived: arrival, release };
    },
  };
}
