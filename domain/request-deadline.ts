import { z } from 'zod';
import { actorIdSchema } from './free-text.js';

/**
 * The kinds of a person's request the hub answers, each with GDPR's one-month deadline (Art. 12(3)).
 * Listed here once, so a new kind (access, rectification, restriction) needs no change to the deadline rail.
 */
export const requestKinds = ['erasure', 'consent', 'access', 'rectification', 'restriction'] as const;
export const requestKindSchema = z.enum(requestKinds, {
  error: () => `must be one of: ${requestKinds.join(', ')}`,
});
export type RequestKind = z.infer<typeof requestKindSchema>;

/** Art. 12(3): "within one month of receipt of the request". */
export const deadlineMonths = 1;
/** Art. 12(3): "That period may be extended by two further months where necessary". */
export const maxExtensionMonths = 2;

/**
 * `time` plus `months` calendar months, as EU law counts a period expressed in months: Regulation (EEC,
 * Euratom) No 1182/71 (rules applicable to periods, dates and time limits), Art. 3(2)(c): the period ends
 * on the day of the last month that has the same date as the day it began; when that date does not exist
 * in the last month, on that month's last day. So 15 March + 1 = 15 April, 31 January + 1 = 28 February
 * (29 in a leap year), 31 January + 3 = 30 April; the count always starts from `time`, never from an
 * earlier result (31 January + 1 + 2 is 30 April, not 28 April).
 *
 * Counted in UTC, keeping the time of day: the Regulation lets the period run to the end of that day (and
 * to the next working day when it ends on a weekend or holiday, Art. 3(4)); the hub keeps the earlier,
 * stricter instant, which no calendar of holidays can make wrong. Input and output are Date; `months` is a
 * whole number ≥ 0.
 */
export function addCalendarMonths(time: Date, months: number): Date {
  if (!Number.isInteger(months) || months < 0) throw new RangeError('months must be a whole number ≥ 0');
  const year = time.getUTCFullYear();
  const month = time.getUTCMonth() + months;
  // Day 0 of the month after is the last day of the target month.
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      year,
      month,
      Math.min(time.getUTCDate(), lastDay),
      time.getUTCHours(),
      time.getUTCMinutes(),
      time.getUTCSeconds(),
      time.getUTCMilliseconds(),
    ),
  );
}

/**
 * When a request received at `receivedAt` (ISO 8601) must be answered, after `extensionMonths` (0–2) of
 * extension: receipt + 1 + extension calendar months (addCalendarMonths). ISO 8601 UTC out.
 */
export function dueAtFor(receivedAt: string, extensionMonths = 0): string {
  if (extensionMonths > maxExtensionMonths)
    throw new RangeError(`a deadline may be extended by at most ${maxExtensionMonths} months`);
  return addCalendarMonths(new Date(receivedAt), deadlineMonths + extensionMonths).toISOString();
}

/** How far a `receivedAt` may lie ahead of the hub's clock (another machine's clock, a slow request). */
export const receivedAtClockSkewMs = 5 * 60 * 1000;
/** CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS' default: how old a request entered late may be. */
export const defaultReceivedAtFloorDays = 90;

/**
 * When a request was received, for one that arrived by letter or email and is entered later: an ISO 8601
 * date-time with offset, not in the future (beyond `receivedAtClockSkewMs`) and not more than `floorDays`
 * days before `now`. Answers the time as UTC ISO 8601; a refusal is a ZodError on `receivedAt` whose message
 * says what is expected (the CLI exits 2, the API answers 400).
 */
export function receivedAtSchema(options: { now: Date; floorDays: number }) {
  const floor = new Date(options.now.getTime() - options.floorDays * 24 * 60 * 60 * 1000);
  const latest = new Date(options.now.getTime() + receivedAtClockSkewMs);
  return z.iso
    .datetime({
      offset: true,
      error: 'must be an ISO 8601 date-time with offset, such as 2026-05-04T09:30:00Z',
    })
    .transform((value) => new Date(value).toISOString())
    .refine((value) => value <= latest.toISOString(), {
      error: `must not be in the future (the hub's clock says ${options.now.toISOString()})`,
    })
    .refine((value) => value >= floor.toISOString(), {
      error: `must not be more than ${options.floorDays} days ago (before ${floor.toISOString()}; CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS)`,
    });
}

/** Parses a `receivedAt` against the clock and floor; absent means now. Throws ZodError on `receivedAt`. */
export function parseReceivedAt(
  value: string | undefined,
  options: { now: Date; floorDays: number },
): string {
  if (value === undefined) return options.now.toISOString();
  const parsed = receivedAtSchema(options).safeParse(value);
  if (parsed.success) return parsed.data;
  throw new z.ZodError(parsed.error.issues.map((issue) => ({ ...issue, path: ['receivedAt'] })));
}

/** An extension of a request's deadline, as `consent-hub extend` and the API take it (Art. 12(3)). */
export const deadlineExtensionSchema = z.object({
  months: z.coerce
    .number()
    .int()
    .refine((months) => months === 1 || months === 2, { error: 'must be 1 or 2 (months)' }),
  /** Art. 12(3) asks the controller to tell the person the reasons for the delay: kept with the request. */
  reason: z.string().trim().min(1, { error: 'a reason is required to extend a deadline' }).max(500),
  operator: actorIdSchema,
});
export type DeadlineExtension = z.output<typeof deadlineExtensionSchema>;

/** A request's deadline as the ledger keeps it: ids, times, no personal data. */
export interface RequestDeadline {
  requestId: string;
  kind: RequestKind;
  subjectKey: string;
  /** When the request was received (given at intake for a letter or email, else when it was entered). */
  receivedAt: string;
  /** receivedAt + 1 + extendedMonths calendar months (dueAtFor). */
  dueAt: string;
  /** 0, 1 or 2. */
  extendedMonths: number;
  /** When the request reached a terminal state; absent while it is open. */
  completedAt?: string;
}

/** A row of `consent-hub requests` and `GET /v1/requests`. */
export interface RequestListing extends RequestDeadline {
  /** `open` or `completed`; a kind may say more while open (an erasure's `needs_attention`). */
  state: string;
  /** Open and past dueAt. A completed request is never overdue. */
  overdue: boolean;
}

/** True when an open request's deadline has passed at `now`. */
export function isOverdue(deadline: Pick<RequestDeadline, 'dueAt' | 'completedAt'>, now: Date): boolean {
  return deadline.completedAt === undefined && deadline.dueAt < now.toISOString();
}

/**
 * A window such as `7d`, `48h` or `2w` (`--due-within`, `dueWithin=`), in milliseconds; a ZodError
 * otherwise. Days are 24 hours here: it is a filter, not a legal period.
 */
export const dueWithinSchema = z
  .string()
  .trim()
  .regex(/^\d{1,4}[hdw]$/, { error: 'must be a number and a unit: h, d or w (such as 7d, 48h, 2w)' })
  .transform((value) => {
    const amount = Number(value.slice(0, -1));
    const hours = { h: 1, d: 24, w: 24 * 7 }[value.slice(-1) as 'h' | 'd' | 'w'];
    return amount * hours * 60 * 60 * 1000;
  });
