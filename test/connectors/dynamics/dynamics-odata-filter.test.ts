import { describe, expect, it } from 'vitest';
import { and, eq, ge, or } from '../../../connectors/dynamics/odata-filter.js';
import { entityDefinitions } from '../../../sandboxes/dynamics/columns.js';
import { evaluateFilter, parseFilter } from '../../../sandboxes/dynamics/odata-filter.js';

const columns = entityDefinitions(['new_gaclientid']).contacts?.columns ?? {};
const matches = (filter: string, row: Record<string, string | boolean | null>) =>
  evaluateFilter(parseFilter(filter, columns, 'Microsoft.Dynamics.CRM.contact'), row);

describe('the connector’s $filter builder, read back by an OData grammar', () => {
  it('doubles single quotes in literals so the filter reads one string back', () => {
    const filter = eq('emailaddress1', "o'brien@example.com");
    expect(filter).toBe("emailaddress1 eq 'o''brien@example.com'");
    expect(matches(filter, { emailaddress1: "O'Brien@example.com" })).toBe(true);
    expect(matches(filter, { emailaddress1: 'obrien@example.com' })).toBe(false);
  });

  it("keeps an injection attempt inside the literal: x' or 1 eq 1 or 'a matches only itself", () => {
    const filter = or(eq('emailaddress1', "x' or 1 eq 1 or 'a"), eq('emailaddress2', "x' or 1 eq 1 or 'a"));
    expect(matches(filter, { emailaddress1: 'someone@example.com' })).toBe(false);
    expect(matches(filter, { emailaddress2: "X' OR 1 EQ 1 OR 'A" })).toBe(true);
  });

  it('writes a modifiedon watermark as a DateTimeOffset literal that compares as a time', () => {
    const filter = ge('modifiedon', new Date('2026-01-02T03:04:05.678Z'));
    expect(filter).toBe('modifiedon ge 2026-01-02T03:04:05.678Z');
    expect(matches(filter, { modifiedon: '2026-01-02T03:04:05.678Z' })).toBe(true);
    expect(matches(filter, { modifiedon: '2026-01-02T03:04:05.677Z' })).toBe(false);
    expect(matches(and(filter, eq('donotbulkemail', true)), { modifiedon: '2027-01-01T00:00:00Z' })).toBe(
      false,
    );
  });

  it('refuses a column name that could smuggle syntax', () => {
    expect(() => eq("emailaddress1 eq 'a' or x", 'a')).toThrow(/not a column name/);
    expect(() => ge('modifiedon or 1', new Date())).toThrow(/not a column name/);
  });
});
