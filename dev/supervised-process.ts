import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A child process dev keeps running: when it dies unexpectedly it is started again after a back-off (1 s,
 * doubling to 30 s; back to 1 s once it has stayed up a minute), instead of taking Temporal, the sandboxes
 * and the other processes down with it. It runs in its own process group, so a Ctrl-C at the terminal
 * reaches dev alone, which then stops its children in order.
 */
export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs = 1000;
  /** Starts so far (1 after the first start). */
  starts = 0;
  /** `start` (a child was spawned) and `exit` (it died and will be started again; not sent on stop()). */
  readonly lifecycle = new EventEmitter<{ start: []; exit: [] }>();

  constructor(
    private readonly name: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly print: (line: string) => void,
  ) {}

  start(): void {
    const startedAt = Date.now();
    this.starts++;
    const child = spawn(process.execPath, this.args, {
      env: this.env,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    this.child = child;
    this.lifecycle.emit('start');
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.lifecycle.emit('exit');
      if (Date.now() - startedAt > 60_000) this.backoffMs = 1000;
      const wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
      this.print(
        `The ${this.name} stopped (${signal ?? `exit code ${code}`}); starting it again in ${wait / 1000} s. Temporal, the sandboxes and the rest keep running.`,
      );
      void delay(wait).then(() => {
        if (!this.stopping) this.start();
      });
    });
  }

  /** The running child's pid (changes when it is restarted). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while a child runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (the worker's graceful shutdown), then SIGKILL after `forceAfterMs`. */
  async stop(forceAfterMs = 40_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), forceAfterMs);
    await exited;
    clearTimeout(timer);
  }
}
