/**
 * Mailchimp's partial responses: `fields` keeps only the named fields and `exclude_fields` drops them, each a
 * comma-separated list with sub-objects in dot notation (`members.email_address`); a path into an array
 * applies to every element. Source: https://mailchimp.com/developer/marketing/docs/methods-parameters/
 * ("Partial responses").
 */
export interface FieldSelection {
  fields?: string[][];
  exclude?: string[][];
}

function paths(raw: unknown): string[][] | undefined {
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const split = values
    .flatMap((value) => String(value).split(','))
    .map((path) => path.trim())
    .filter((path) => path !== '')
    .map((path) => path.split('.'));
  return split.length > 0 ? split : undefined;
}

/** The selection a request's query asks for (both parameters may be given; `fields` applies first). */
export function fieldSelection(query: unknown): FieldSelection {
  const record = (query ?? {}) as Record<string, unknown>;
  return { fields: paths(record.fields), exclude: paths(record.exclude_fields) };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function pick(value: unknown, wanted: string[][]): unknown {
  if (Array.isArray(value)) return value.map((item) => pick(item, wanted));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const matching = wanted.filter((path) => path[0] === key);
    if (matching.length === 0) continue;
    out[key] = matching.some((path) => path.length === 1)
      ? child
      : pick(
          child,
          matching.map((path) => path.slice(1)),
        );
  }
  return out;
}

function omit(value: unknown, unwanted: string[][]): unknown {
  if (Array.isArray(value)) return value.map((item) => omit(item, unwanted));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const matching = unwanted.filter((path) => path[0] === key);
    if (matching.some((path) => path.length === 1)) continue;
    out[key] =
      matching.length > 0
        ? omit(
            child,
            matching.map((path) => path.slice(1)),
          )
        : child;
  }
  return out;
}

/** The answer body with the selection applied; bodies that are not JSON objects pass unchanged. */
export function applyFieldSelection(body: unknown, selection: FieldSelection): unknown {
  let result = body;
  if (selection.fields) result = pick(result, selection.fields);
  if (selection.exclude) result = omit(result, selection.exclude);
  return result;
}
