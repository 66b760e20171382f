import { z } from 'zod';

/** One injected fault: the next `count` requests that match fail with `status`. */
export const faultSchema = z.object({
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .optional(),
  /** A regular expression matched against the request path (without the query string). */
  path: z.string().default('.*'),
  /**
   * A regular expression matched against the request body as JSON text (`"status":"pending"`): such a fault
   * is checked once the body is read, so a test can fail one kind of write and let another through.
   */
  body: z.string().optional(),
  status: z.number().int().min(400).max(599),
  count: z.number().int().min(1).default(1),
  /** Seconds, sent as `Retry-After`. */
  retryAfter: z.number().int().min(0).optional(),
  message: z.string().default('Injected by the sandbox'),
});
export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

export const latencySchema = z.object({ ms: z.number().int().min(0).max(120_000) });
export const outageSchema = z.object({ on: z.boolean() });

export interface RequestLogEntry {
  seq: number;
  method: string;
  /** The path only: query strings can carry personal data (a $filter on an email, say). */
  path: string;
  status: number;
  at: string;
  durationMs: number;
  /**
   * A request the sandbox ran inside another one (a `$batch`'s part): no HTTP call of its own, but one the
   * vendor's limits count. Absent on calls a client made.
   */
  inner?: true;
}
