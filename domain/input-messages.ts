import { z } from 'zod';

const described: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};

/** A field name the schemas could hold: an identifier, never an address, a name with spaces or prose. */
const fieldNameShape = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * How a boundary names a field that the client sent: itself when it is identifier-shaped (`gaClientId`, a
 * typo worth naming), else `(unnamed field)`. A JSON key is input too, and a client may send a person's
 * address or name as a key (`{"fiona@example.net": true}`); echoing it would put it into the answer and any
 * log of it.
 */
export function nameOfField(key: PropertyKey): string {
  const text = String(key);
  if (typeof key === 'number' || /^\d{1,9}$/.test(text)) return text;
  return fieldNameShape.test(text) ? text : '(unnamed field)';
}

/**
 * What every boundary (CLI, API) says about bad input, where a schema gives no words of its own: what is
 * wrong and what is expected, in one line, never zod's defaults ("Invalid input: expected string, received
 * undefined"). Messages never quote the input back: it may be a person's address. A schema's own `error`
 * still wins over these (zod's precedence).
 */
export function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `is required (${described[issue.expected] ?? issue.expected})`
        : `must be ${described[issue.expected] ?? issue.expected}, not ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'a list' : typeof issue.input}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      if (issue.format === 'datetime')
        return 'must be an ISO 8601 date-time with a zone, such as 2025-01-31T09:30:00Z';
      if (issue.format === 'date') return 'must be a date, YYYY-MM-DD';
      if (issue.format === 'uuid') return 'must be a UUID';
      return `must be ${issue.format === 'regex' ? 'in the expected format' : `a valid ${issue.format}`}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `must be at most ${issue.maximum} characters`
        : `must be at most ${issue.maximum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'too_small':
      return issue.origin === 'string'
        ? Number(issue.minimum) <= 1
          ? 'must not be empty'
          : `must be at least ${issue.minimum} characters`
        : `must be at least ${issue.minimum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.map(nameOfField).join(', ')}`;
    default:
      return undefined;
  }
}

/** Installs describeIssue as zod's process-wide messages; the CLI and the API call it once at start. */
export function useInputMessages(): void {
  z.config({ customError: describeIssue });
}
