import { scrubEmails } from '../logging/logger.js';

/** One thing a process needs to do its work: Temporal, the ledger, a vendor's credentials. */
export interface ReadinessCheck {
  name: string;
  run(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  /** Per check: `ok`, or why not (one scrubbed sentence, never an address or a secret). */
  checks: Record<string, string>;
}

/**
 * Runs every check in parallel, each bounded by `timeoutMs`, so a hung dependency makes `/readyz` answer 503
 * in time rather than hang the probe.
 */
export async function checkReadiness(checks: ReadinessCheck[], timeoutMs = 5000): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (check): Promise<[string, string]> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check.run(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [check.name, 'ok'];
      } catch (error) {
        return [check.name, scrubEmails(error instanceof Error ? error.message : String(error))];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, result]) => result === 'ok'), checks: Object.fromEntries(results) };
}
