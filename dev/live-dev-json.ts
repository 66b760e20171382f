import type { ChildProcess } from 'node:child_process';
import { type DevJson, writeDevJson } from './dev-json.js';
import type { SupervisedProcess } from './supervised-process.js';
import { answers200 } from './wait-until.js';

/**
 * dev.json kept true while dev runs: written with `"ready": true` once every part answered, rewritten with
 * `"ready": false` and the parts that are down (`notReady`) as soon as a supervised process dies, and with
 * `"ready": true` again once its restarted process answers its readiness URL. Each write is atomic. After
 * `close()` (dev is stopping and removes the file) nothing is written any more.
 */
export class LiveDevJson {
  private readonly down = new Set<string>();
  private closed = false;
  private written = false;

  constructor(
    private readonly dataDir: string,
    private readonly base: Omit<DevJson, 'ready' | 'notReady'>,
  ) {}

  /** Writes the file as it stands now (and from then on at every change); returns its path. */
  write(): string {
    const notReady = [...this.down].sort();
    this.written = true;
    return writeDevJson(this.dataDir, {
      ...this.base,
      ready: notReady.length === 0,
      ...(notReady.length > 0 ? { notReady } : {}),
    });
  }

  setDown(part: string, isDown: boolean): void {
    if (this.closed || this.down.has(part) === isDown) return;
    if (isDown) this.down.add(part);
    else this.down.delete(part);
    if (this.written) this.write();
  }

  close(): void {
    this.closed = true;
  }

  /**
   * Marks `part` down for good when `child` exits: a part dev does not restart (the Temporal dev server),
   * whose loss leaves the worker and the API up but unable to do anything. Calls `onLoss` with the exit code
   * or signal, so dev can say so. Without it dev.json kept `"ready": true` after the server died.
   */
  trackLoss(part: string, child: ChildProcess, onLoss: (how: string) => void = () => {}): void {
    const lost = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.closed) return;
      this.setDown(part, true);
      onLoss(signal ? `killed by ${signal}` : `exited with code ${code}`);
    };
    if (child.exitCode !== null || child.signalCode !== null) lost(child.exitCode, child.signalCode);
    else child.once('exit', lost);
  }

  /**
   * Marks `part` down when `process` dies, and up again once the restarted process answers 200 on
   * `readyUrl` (polled every `pollMs`; a process that dies again before answering stays down).
   */
  track(part: string, process: SupervisedProcess, readyUrl: string, pollMs = 250): void {
    let generation = process.starts;
    // Died between answering and being tracked: it is down until its next process answers.
    if (!process.running) this.down.add(part);
    process.lifecycle.on('exit', () => this.setDown(part, true));
    process.lifecycle.on('start', () => {
      const mine = ++generation;
      void (async () => {
        while (!this.closed && mine === generation && this.down.has(part)) {
          if (await answers200(readyUrl)) {
            if (mine === generation) this.setDown(part, false);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, pollMs));
        }
      })();
    });
  }
}
