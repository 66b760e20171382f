/**
 * Builds OData `$filter` text from typed parts. Literals are only ever written by `literal`, which doubles
 * single quotes as OData requires, so a value such as `x' or 1 eq 1 or 'a` stays one string literal.
 */
declare const filterBrand: unique symbol;
export type ODataFilter = string & { readonly [filterBrand]: true };
export type ODataLiteral = string | boolean | null | Date;

const columnPattern = /^[a-z_][a-z0-9_]*$/;

function column(name: string): string {
  if (!columnPattern.test(name)) throw new Error(`not a column name: ${name}`);
  return name;
}

/** A Date is written as an unquoted DateTimeOffset literal (UTC, milliseconds), as OData v4 spells it. */
export function literal(value: ODataLiteral): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return value.toISOString();
  return `'${value.replaceAll("'", "''")}'`;
}

export function eq(name: string, value: ODataLiteral): ODataFilter {
  return `${column(name)} eq ${literal(value)}` as ODataFilter;
}

/** `column ge value`: rows whose column is at or after (or above) the value. */
export function ge(name: string, value: ODataLiteral): ODataFilter {
  return `${column(name)} ge ${literal(value)}` as ODataFilter;
}

export function or(...parts: ODataFilter[]): ODataFilter {
  return parts.map((p) => `(${p})`).join(' or ') as ODataFilter;
}

export function and(...parts: ODataFilter[]): ODataFilter {
  return parts.map((p) => `(${p})`).join(' and ') as ODataFilter;
}

/**
 * Dataverse's `In` query function: the column holds one of the values
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in, "Query function to evaluate
 * whether the value is in the source list"; PropertyValues is Collection(Edm.String)). One function call
 * instead of an `eq` per value keeps a query for many people's addresses short.
 */
export function isIn(name: string, values: string[]): ODataFilter {
  if (values.length === 0) throw new Error('In needs at least one value');
  return `Microsoft.Dynamics.CRM.In(PropertyName=${literal(column(name))},PropertyValues=[${values
    .map((value) => literal(value))
    .join(',')}])` as ODataFilter;
}
