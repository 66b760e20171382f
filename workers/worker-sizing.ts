import { existsSync } from 'node:fs';
import { z } from 'zod';

const count = (name: string, min: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int({ error: `${name} must be a whole number` })
    .min(min, { error: `${name} must be at least ${min}` });

/**
 * How big the workflow worker is, read from the environment. The defaults come from the opt-out wave
 * (`npm run bench`, README "Worker sizing"): a person's consent workflow is open only while its writes run,
 * so the sticky cache needs to hold the people in flight, not every person seen in the last minutes; the
 * SDK's own default (about 60 % of the heap in MB, 2,300 runs on a 4 GB heap) let the worker grow past a
 * gigabyte in a wave of 2,000 people.
 */
export const workerSizingSchema = z.object({
  /** A workflow bundle built beforehand (`bundleWorkflowCode`); else dist/'s, else bundled at start. */
  CONSENT_HUB_WORKFLOW_BUNDLE: z
    .string()
    .min(1)
    .refine((path) => existsSync(path), { error: 'CONSENT_HUB_WORKFLOW_BUNDLE names no file' })
    .optional(),
  /** Workflow runs kept in memory between their tasks (the sticky cache); an evicted run is replayed. */
  CONSENT_HUB_MAX_CACHED_WORKFLOWS: count('CONSENT_HUB_MAX_CACHED_WORKFLOWS', 2).default(500),
  /** Workflow tasks this worker runs at once (at most the cache size). */
  CONSENT_HUB_MAX_WORKFLOW_TASKS: count('CONSENT_HUB_MAX_WORKFLOW_TASKS', 2).default(20),
  /** Activities on the hub's own queue at once: the ledger's, each a few database statements. */
  CONSENT_HUB_MAX_LEDGER_ACTIVITIES: count('CONSENT_HUB_MAX_LEDGER_ACTIVITIES', 1).default(20),
});

export type WorkerSizing = z.infer<typeof workerSizingSchema>;

/** The workflow worker's sizing from the environment; a bad value stops the worker naming the variable. */
export function workerSizing(env: NodeJS.ProcessEnv = process.env): WorkerSizing {
  return workerSizingSchema.parse(env);
}
