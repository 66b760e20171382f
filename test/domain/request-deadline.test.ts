import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import {
  addCalendarMonths,
  deadlineExtensionSchema,
  dueAtFor,
  dueWithinSchema,
  isOverdue,
  parseReceivedAt,
} from '../../domain/request-deadline.js';

const utc = (iso: string) => new Date(iso);

describe('the one-month deadline as EU law counts months (Reg. 1182/71 Art. 3(2)(c))', () => {
  it.each([
    ['2026-03-15T10:00:00.000Z', 1, '2026-04-15T10:00:00.000Z'],
    ['2026-01-31T08:30:00.000Z', 1, '2026-02-28T08:30:00.000Z'],
    ['2028-01-31T08:30:00.000Z', 1, '2028-02-29T08:30:00.000Z'],
    ['2026-03-31T00:00:00.000Z', 1, '2026-04-30T00:00:00.000Z'],
    ['2026-01-30T12:00:00.000Z', 1, '2026-02-28T12:00:00.000Z'],
    ['2026-12-31T23:59:59.999Z', 1, '2027-01-31T23:59:59.999Z'],
    ['2026-11-30T06:00:00.000Z', 3, '2027-02-28T06:00:00.000Z'],
    ['2026-01-31T08:30:00.000Z', 3, '2026-04-30T08:30:00.000Z'],
    ['2026-05-04T09:00:00.000Z', 0, '2026-05-04T09:00:00.000Z'],
  ])('%s plus %i month(s) is %s', (from, months, expected) => {
    expect(addCalendarMonths(utc(from), months).toISOString()).toBe(expected);
  });

  it('counts an extension from the receipt, not from the earlier due date (31 Jan + 1 + 2 is 30 April)', () => {
    const received = '2026-01-31T08:30:00.000Z';
    expect(dueAtFor(received)).toBe('2026-02-28T08:30:00.000Z');
    expect(dueAtFor(received, 1)).toBe('2026-03-31T08:30:00.000Z');
    expect(dueAtFor(received, 2)).toBe('2026-04-30T08:30:00.000Z');
  });

  it('refuses more than two months of extension and a negative or fractional month', () => {
    expect(() => dueAtFor('2026-01-01T00:00:00Z', 3)).toThrow(/at most 2 months/);
    expect(() => addCalendarMonths(utc('2026-01-01T00:00:00Z'), -1)).toThrow(RangeError);
    expect(() => addCalendarMonths(utc('2026-01-01T00:00:00Z'), 1.5)).toThrow(RangeError);
  });

  it('is overdue only while open and past its due time', () => {
    const now = utc('2026-06-01T00:00:00Z');
    expect(isOverdue({ dueAt: '2026-05-31T23:59:59.000Z' }, now)).toBe(true);
    expect(isOverdue({ dueAt: '2026-06-01T00:00:01.000Z' }, now)).toBe(false);
    expect(
      isOverdue({ dueAt: '2026-05-01T00:00:00.000Z', completedAt: '2026-05-30T00:00:00.000Z' }, now),
    ).toBe(false);
  });
});

describe('receivedAt for a request entered late: not in the future, not before the floor', () => {
  const now = utc('2026-06-15T12:00:00Z');
  const options = { now, floorDays: 90 };

  it('defaults to now and normalises a given time to UTC', () => {
    expect(parseReceivedAt(undefined, options)).toBe('2026-06-15T12:00:00.000Z');
    expect(parseReceivedAt('2026-05-14T11:00:00+02:00', options)).toBe('2026-05-14T09:00:00.000Z');
  });

  it('allows a few minutes of clock skew but refuses a time in the future', () => {
    expect(parseReceivedAt('2026-06-15T12:04:00Z', options)).toBe('2026-06-15T12:04:00.000Z');
    const refused = () => parseReceivedAt('2026-06-16T12:00:00Z', options);
    expect(refused).toThrow(ZodError);
    expect(refused).toThrow(/must not be in the future/);
  });

  it('refuses a time before the configured floor, naming the floor and its variable', () => {
    expect(parseReceivedAt('2026-03-18T12:00:00Z', options)).toBe('2026-03-18T12:00:00.000Z');
    try {
      parseReceivedAt('2026-03-16T12:00:00Z', options);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ZodError);
      const issue = (error as ZodError).issues[0];
      expect(issue?.path).toEqual(['receivedAt']);
      expect(issue?.message).toMatch(/more than 90 days ago .*CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS/);
    }
    expect(parseReceivedAt('2026-03-16T12:00:00Z', { now, floorDays: 120 })).toBe('2026-03-16T12:00:00.000Z');
  });

  it('refuses what is not a date-time with a zone', () => {
    expect(() => parseReceivedAt('2026-06-01', options)).toThrow(ZodError);
    expect(() => parseReceivedAt('2026-06-01T10:00:00', options)).toThrow(ZodError);
  });
});

describe('an extension and a due-within window', () => {
  it('takes 1 or 2 months and needs a reason and an operator id', () => {
    expect(deadlineExtensionSchema.parse({ months: '2', reason: ' backlog ', operator: 'cli:ann' })).toEqual({
      months: 2,
      reason: 'backlog',
      operator: 'cli:ann',
    });
    for (const months of [0, 3, 1.5]) {
      expect(deadlineExtensionSchema.safeParse({ months, reason: 'x', operator: 'cli:ann' }).success).toBe(
        false,
      );
    }
    const noReason = deadlineExtensionSchema.safeParse({ months: 1, reason: '  ', operator: 'cli:ann' });
    expect(noReason.success ? '' : noReason.error.issues[0]?.message).toMatch(/reason is required/);
  });

  it('reads 7d, 48h and 2w as milliseconds and refuses other units', () => {
    expect(dueWithinSchema.parse('7d')).toBe(7 * 24 * 3600 * 1000);
    expect(dueWithinSchema.parse('48h')).toBe(48 * 3600 * 1000);
    expect(dueWithinSchema.parse('2w')).toBe(14 * 24 * 3600 * 1000);
    expect(dueWithinSchema.safeParse('7 days').success).toBe(false);
    expect(dueWithinSchema.safeParse('-7d').success).toBe(false);
  });
});
