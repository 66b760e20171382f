import { describe, expect, it } from 'vitest';
import { eq, or } from '../../../connectors/dynamics/odata-filter.js';
import { entityDefinitions } from '../../../sandboxes/dynamics/columns.js';
import {
  checkFilter,
  evaluateFilter,
  FilterError,
  parseFilter,
} from '../../../sandboxes/dynamics/odata-filter.js';

const columns = entityDefinitions(['new_gaclientid']).contacts?.columns ?? {};
const matches = (filter: string, row: Record<string, string | boolean | null>) => {
  const node = parseFilter(filter);
  checkFilter(node, columns, 'contact');
  return evaluateFilter(node, row);
};

describe('OData $filter: connector builder and sandbox parser', () => {
  it('doubles single quotes in literals so the sandbox reads one string back', () => {
    const filter = eq('emailaddress1', "o'brien@example.com");
    expect(filter).toBe("emailaddress1 eq 'o''brien@example.com'");
    expect(parseFilter(filter)).toEqual({
      type: 'compare',
      op: 'eq',
      property: 'emailaddress1',
      literal: { kind: 'string', value: "o'brien@example.com" },
    });
  });

  it("keeps an injection attempt inside the literal: x' or 1 eq 1 or 'a matches only itself", () => {
    const filter = or(eq('emailaddress1', "x' or 1 eq 1 or 'a"), eq('emailaddress2', "x' or 1 eq 1 or 'a"));
    expect(matches(filter, { emailaddress1: 'someone@example.com' })).toBe(false);
    expect(matches(filter, { emailaddress2: "X' OR 1 EQ 1 OR 'A" })).toBe(true);
  });

  it('compares strings case-insensitively and supports ne, null and Booleans', () => {
    expect(matches("emailaddress1 eq 'ADA@example.com'", { emailaddress1: 'ada@EXAMPLE.com' })).toBe(true);
    expect(matches("emailaddress1 ne 'ada@example.com'", { emailaddress1: 'ada@example.com' })).toBe(false);
    expect(matches('emailaddress2 eq null', { emailaddress2: null })).toBe(true);
    expect(matches('emailaddress2 ne null', { emailaddress2: 'x@example.com' })).toBe(true);
    expect(matches('donotbulkemail eq true', { donotbulkemail: true })).toBe(true);
    expect(matches('false eq donotbulkemail', { donotbulkemail: true })).toBe(false);
  });

  it('gives and precedence over or, and honours parentheses', () => {
    const row = { firstname: 'a', lastname: 'b', fullname: 'c' };
    expect(matches("firstname eq 'x' and lastname eq 'b' or fullname eq 'c'", row)).toBe(true);
    expect(matches("firstname eq 'x' and (lastname eq 'b' or fullname eq 'c')", row)).toBe(false);
  });

  it.each([
    ["emailaddress1 eq 'unterminated", /Unterminated/],
    ["emailaddress1 eq 'a' or 1 eq 1", /one column and one literal/],
    ["emailaddress1 gt 'a'", /not supported/],
    ["(emailaddress1 eq 'a'", /'\)' expected/],
    ["emailaddress1 eq 'a' emailaddress2", /unexpected token/],
    ["nosuchcolumn eq 'a'", /Could not find a property named 'nosuchcolumn'/],
    ["donotbulkemail eq 'yes'", /incompatible types/],
    ["emailaddress1 eq 'a'; process.exit()", /not valid in a filter/],
    ['', /empty/],
  ])('rejects %j with a readable error and never evaluates it', (filter, message) => {
    expect(() => {
      const node = parseFilter(filter);
      checkFilter(node, columns, 'contact');
    }).toThrow(FilterError);
    expect(() => {
      const node = parseFilter(filter);
      checkFilter(node, columns, 'contact');
    }).toThrow(message);
  });
});
