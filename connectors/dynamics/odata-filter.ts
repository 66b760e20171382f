/**
 * Builds OData `$filter` text from typed parts. Literals are only ever written by `literal`, which doubles
 * single quotes as OData requires, so a value such as `x' or 1 eq 1 or 'a` stays one string literal.
 */
declare const filterBrand: unique symbol;
export type ODataFilter = string & { readonly [filterBrand]: true };
export type ODataLiteral = string | boolean | null;

const columnPattern = /^[a-z_][a-z0-9_]*$/;

export function literal(value: ODataLiteral): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return `'${value.replaceAll("'", "''")}'`;
}

export function eq(column: string, value: ODataLiteral): ODataFilter {
  if (!columnPattern.test(column)) throw new Error(`not a column name: ${column}`);
  return `${column} eq ${literal(value)}` as ODataFilter;
}

export function or(...parts: ODataFilter[]): ODataFilter {
  return parts.map((p) => `(${p})`).join(' or ') as ODataFilter;
}

export function and(...parts: ODataFilter[]): ODataFilter {
  return parts.map((p) => `(${p})`).join(' and ') as ODataFilter;
}
