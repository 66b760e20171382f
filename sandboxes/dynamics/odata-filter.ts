import { defaultParser } from '@odata/parser';
import { primitiveLiteral } from '@odata/parser/lib/primitiveLiteral.js';
import type { ColumnType, ColumnValue, DataverseRow } from './columns.js';

/**
 * `$filter` and `$orderby` for the sandbox. The text is parsed by an OData v4 grammar library
 * (@odata/parser, the TypeScript fork of jaystack's odata-v4-parser), and its tree is translated here
 * into a small typed tree checked against the table's columns, then evaluated over rows. Nothing in a
 * filter is ever run as code. Two gaps of the library are bridged on its own terms rather than by a parser
 * of ours: it has no `in`, so `x in (a,b)` is written out as `x eq a or x eq b` (OData 4.01 defines it so),
 * its list read with the library's literal grammar; and its `not` takes everything after it, so the
 * boolean nodes of its tree are bound again by OData's precedence.
 *
 * What Dataverse documents and the sandbox follows (learn.microsoft.com/power-apps/developer/data-platform/
 * webapi/query/filter-rows): `eq ne gt ge lt le` between a column and a value or two columns of one type,
 * `and or not`, parentheses, `contains`, `startswith`, `endswith`; `in` with a list of values; literals for
 * strings, numbers, Booleans, null, GUIDs (unquoted) and dates (`2024-01-31` or a DateTimeOffset).
 * Text compares as the collation of an English (1033) environment does, `_CI_AI`: without regard to case or
 * accents (learn.microsoft.com/power-platform/admin/language-collations: "Cafe" and "cafe" are the same word
 * in every language; in an accent-insensitive one, so are "cafe" and "café"). A composed `é` and `e` followed
 * by a combining accent are then one letter too.
 */
export class FilterError extends Error {}

type Literal = { kind: 'literal'; value: ColumnValue; edm: string };
type Column = { kind: 'column'; name: string; type: ColumnType };
type Operand = Literal | Column;
type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type StringFunction = 'contains' | 'startswith' | 'endswith';

export type FilterNode =
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'not'; operand: FilterNode }
  | { type: 'compare'; op: ComparisonOperator; column: Column; right: Operand }
  | { type: 'function'; name: StringFunction; column: Column; text: string };

export interface OrderByItem {
  column: string;
  type: ColumnType;
  descending: boolean;
}

interface Token {
  type: string;
  raw: string;
  value: unknown;
}

const comparisons: Record<string, { op: ComparisonOperator; name: string }> = {
  EqualsExpression: { op: 'eq', name: 'Equal' },
  NotEqualsExpression: { op: 'ne', name: 'NotEqual' },
  GreaterThanExpression: { op: 'gt', name: 'GreaterThan' },
  GreaterOrEqualsExpression: { op: 'ge', name: 'GreaterEqual' },
  LesserThanExpression: { op: 'lt', name: 'LessThan' },
  LesserOrEqualsExpression: { op: 'le', name: 'LessEqual' },
};
const wrappers = new Set([
  'BoolParenExpression',
  'ParenExpression',
  'CommonExpression',
  'BoolCommonExpression',
]);
const memberTypes = new Set(['FirstMemberExpression', 'MemberExpression', 'PropertyPathExpression']);
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;
const numericTypes = new Set([
  'Edm.SByte',
  'Edm.Byte',
  'Edm.Int16',
  'Edm.Int32',
  'Edm.Int64',
  'Edm.Decimal',
  'Edm.Double',
  'Edm.Single',
]);

/**
 * The grammar reads URL text, where `#`, `%`, `?`, `/` and a few more only appear percent-encoded. The
 * server receives the option already decoded, so those characters (which a valid filter can hold only
 * inside a string literal) are encoded again before parsing, and string literals are decoded after.
 */
const encodeForGrammar = (text: string) =>
  text.replace(
    /[#%"?/[\]{}|\\^`<>]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );

/** A literal token as a value: strings unquoted, GUIDs lower-cased, dates as ISO text. */
function literalValue(edm: string, raw: string): ColumnValue {
  if (raw === 'null') return null;
  if (edm === 'Edm.String') return decodeURIComponent(raw.slice(1, -1)).replaceAll("''", "'");
  if (edm === 'Edm.Boolean') return raw === 'true';
  if (numericTypes.has(edm)) return Number(raw);
  if (edm === 'Edm.Guid') return raw.toLowerCase();
  if (edm === 'Edm.DateTimeOffset' || edm === 'Edm.Date') {
    const ms = Date.parse(edm === 'Edm.Date' ? `${raw}T00:00:00Z` : raw);
    if (Number.isNaN(ms)) throw new FilterError(`The date literal '${raw}' is not valid.`);
    return new Date(ms).toISOString();
  }
  throw new FilterError(`Literals of type '${edm}' (${raw}) are not supported in a $filter.`);
}

/** Whether a literal of this EDM type can stand for a value of the column's type. */
function fits(type: ColumnType, literal: Literal): boolean {
  if (literal.value === null) return true;
  switch (type) {
    case 'string':
      return literal.edm === 'Edm.String';
    case 'boolean':
      return literal.edm === 'Edm.Boolean';
    case 'integer':
      return numericTypes.has(literal.edm);
    case 'guid':
      return literal.edm === 'Edm.Guid';
    case 'datetime':
      return literal.edm === 'Edm.DateTimeOffset' || literal.edm === 'Edm.Date';
  }
}

const edmName: Record<ColumnType, string> = {
  string: 'Edm.String',
  boolean: 'Edm.Boolean',
  integer: 'Edm.Int32',
  guid: 'Edm.Guid',
  datetime: 'Edm.DateTimeOffset',
};

/**
 * The literals of the `in (...)` list that opens at `start` in `text`, read item by item with the
 * library's own literal grammar; answers their text and the index just past the closing parenthesis.
 */
function listItems(text: string, start: number): { items: string[]; end: number } {
  const source = Uint16Array.from(text, (ch) => ch.charCodeAt(0));
  const items: string[] = [];
  let index = start + 1;
  for (;;) {
    while (source[index] === 0x20) index++;
    const token = primitiveLiteral(source, index) as unknown as (Token & { next: number }) | undefined;
    if (!token) throw new FilterError(`Syntax error in the list after 'in' at position ${index}.`);
    items.push(token.raw);
    index = token.next;
    while (source[index] === 0x20) index++;
    if (source[index] === 0x2c) {
      index++;
      continue;
    }
    if (source[index] === 0x29) return { items, end: index + 1 };
    throw new FilterError(`Syntax error in the list after 'in' at position ${index}.`);
  }
}

/**
 * `column in (a,b)` written as `(column eq a or column eq b)`, which is what OData 4.01 defines it to
 * mean. Only text outside string literals is looked at (a quote toggles; a doubled quote toggles twice).
 */
function expandIn(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "'") inString = !inString;
    const startsWord = i === 0 || !/[A-Za-z0-9_.]/.test(text[i - 1] as string);
    const match = !inString && startsWord ? /^([A-Za-z_][A-Za-z0-9_]*)\s+in\s*\(/.exec(text.slice(i)) : null;
    if (match?.[1]) {
      const { items, end } = listItems(text, i + match[0].length - 1);
      out += `(${items.map((item) => `${match[1]} eq ${item}`).join(' or ')})`;
      i = end - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/** A single-quoted OData string literal starting at `start` (a doubled quote is a quote): its text and end. */
function quoted(text: string, start: number): { raw: string; end: number } | undefined {
  if (text[start] !== "'") return undefined;
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] !== "'") continue;
    if (text[i + 1] === "'") {
      i++;
      continue;
    }
    return { raw: text.slice(start, i + 1), end: i + 1 };
  }
  return undefined;
}

/** A JSON string (`"..."`, as Microsoft's examples write collection values too) as an OData literal. */
function jsonString(text: string, start: number): { raw: string; end: number } | undefined {
  const match = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(start));
  if (!match) return undefined;
  const value = JSON.parse(match[0]) as string;
  return { raw: `'${value.replaceAll("'", "''")}'`, end: start + match[0].length };
}

const dataverseListFunctions = /^Microsoft\.Dynamics\.CRM\.(In|NotIn)\(/;

/**
 * Dataverse's `In` and `NotIn` query functions (learn.microsoft.com/power-apps/developer/data-platform/webapi/
 * reference/in and .../notin: `PropertyName` Edm.String, the column; `PropertyValues` Collection(Edm.String),
 * the values), written as `(column eq a or column eq b)` and `not (...)`, which is what they evaluate to.
 * Read before the grammar sees the text; only text outside string literals is looked at.
 */
export function expandListFunctions(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const literal = quoted(text, i);
    if (literal) {
      out += literal.raw;
      i = literal.end - 1;
      continue;
    }
    const startsWord = i === 0 || !/[A-Za-z0-9_.]/.test(text[i - 1] as string);
    const call = startsWord ? dataverseListFunctions.exec(text.slice(i)) : null;
    if (!call) {
      out += text[i];
      continue;
    }
    const name = call[1] as 'In' | 'NotIn';
    let index = i + call[0].length;
    const params: Record<string, string[]> = {};
    const syntax = () =>
      new FilterError(
        `Syntax error in the parameters of Microsoft.Dynamics.CRM.${name} at position ${index}.`,
      );
    for (;;) {
      const param = /^\s*(PropertyName|PropertyValues)\s*=\s*/.exec(text.slice(index));
      if (!param?.[1]) throw syntax();
      index += param[0].length;
      if (param[1] === 'PropertyName') {
        const value = quoted(text, index);
        if (!value) throw syntax();
        params.PropertyName = [value.raw];
        index = value.end;
      } else {
        if (text[index] !== '[') throw syntax();
        index++;
        const values: string[] = [];
        for (;;) {
          while (text[index] === ' ') index++;
          if (text[index] === ']' && values.length === 0) break;
          const value = quoted(text, index) ?? jsonString(text, index);
          if (!value) throw syntax();
          values.push(value.raw);
          index = value.end;
          while (text[index] === ' ') index++;
          if (text[index] === ',') {
            index++;
            continue;
          }
          break;
        }
        if (text[index] !== ']') throw syntax();
        index++;
        params.PropertyValues = values;
      }
      while (text[index] === ' ') index++;
      if (text[index] === ',') {
        index++;
        continue;
      }
      if (text[index] === ')') break;
      throw syntax();
    }
    const column = params.PropertyName?.[0]?.slice(1, -1).replaceAll("''", "'");
    const values = params.PropertyValues;
    if (!column || !values) {
      throw new FilterError(`Microsoft.Dynamics.CRM.${name} needs both PropertyName and PropertyValues.`);
    }
    if (!identifier.test(column)) {
      throw new FilterError(`Could not find a property named '${column}'.`);
    }
    if (values.length === 0) {
      throw new FilterError(`Microsoft.Dynamics.CRM.${name} needs at least one value in PropertyValues.`);
    }
    const any = `(${values.map((value) => `${column} eq ${value}`).join(' or ')})`;
    out += name === 'In' ? any : `(not ${any})`;
    i = index;
  }
  return out;
}

/**
 * Parameter aliases (OData 4.0 part 2, 5.1.1.13.1; Microsoft's syntax examples for query functions:
 * `$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='name'&@p2=['value','value']`):
 * each `@name` outside a string literal (single-quoted, or a JSON string in a collection) is replaced by its value from the query. An alias with no value is
 * refused.
 */
export function resolveAliases(text: string, aliases: Record<string, string | undefined>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const literal = quoted(text, i);
    if (literal) {
      out += literal.raw;
      i = literal.end - 1;
      continue;
    }
    const json = text[i] === '"' ? jsonString(text, i) : undefined;
    if (json) {
      out += text.slice(i, json.end);
      i = json.end - 1;
      continue;
    }
    const alias = text[i] === '@' ? /^@([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i)) : null;
    if (!alias) {
      out += text[i];
      continue;
    }
    const value = aliases[`@${alias[1]}`];
    if (value === undefined) throw new FilterError(`The parameter alias '${alias[0]}' has no value.`);
    out += value;
    i += alias[0].length - 1;
  }
  return out;
}

class Translator {
  constructor(
    private readonly columns: Record<string, ColumnType>,
    private readonly typeName: string,
  ) {}

  private unwrap(token: Token): Token {
    let current = token;
    while (wrappers.has(current.type) && current.value && typeof current.value === 'object') {
      current = current.value as Token;
    }
    return current;
  }

  private column(token: Token): Column | undefined {
    const node = this.unwrap(token);
    if (!memberTypes.has(node.type)) return undefined;
    if (!identifier.test(node.raw)) {
      throw new FilterError(`The property path '${node.raw}' is not supported by this sandbox.`);
    }
    const type = this.columns[node.raw];
    if (!type)
      throw new FilterError(`Could not find a property named '${node.raw}' on type '${this.typeName}'.`);
    return { kind: 'column', name: node.raw, type };
  }

  private operand(token: Token): Operand {
    const column = this.column(token);
    if (column) return column;
    const node = this.unwrap(token);
    if (node.type === 'Literal') {
      return { kind: 'literal', edm: String(node.value), value: literalValue(String(node.value), node.raw) };
    }
    throw new FilterError(`The expression '${node.raw}' is not supported in a comparison.`);
  }

  /**
   * The whole tree, with `not`, `and` and `or` bound by OData's precedence (not, then and, then or). The
   * library lets `not` take everything after it (`not a and b` comes back as `not (a and b)`), so its
   * unparenthesised boolean nodes are read back in text order and bound again here. Parenthesised groups
   * stay as the library read them.
   */
  translate(token: Token): FilterNode {
    const items = this.flatten(token);
    let position = 0;
    const peek = () => items[position];
    const unary = (): FilterNode => {
      const item = items[position++];
      if (item === 'not') return { type: 'not', operand: unary() };
      if (!item || item === 'and' || item === 'or')
        throw new FilterError('Syntax error in the $filter expression.');
      return item;
    };
    const conjunction = (): FilterNode => {
      let left = unary();
      while (peek() === 'and') {
        position++;
        left = { type: 'and', left, right: unary() };
      }
      return left;
    };
    let tree = conjunction();
    while (peek() === 'or') {
      position++;
      tree = { type: 'or', left: tree, right: conjunction() };
    }
    if (position !== items.length) throw new FilterError('Syntax error in the $filter expression.');
    return tree;
  }

  /** The boolean structure in text order: operands, `and`, `or` and `not`. */
  private flatten(token: Token): (FilterNode | 'and' | 'or' | 'not')[] {
    let node = token;
    while ((node.type === 'CommonExpression' || node.type === 'BoolCommonExpression') && node.value) {
      node = node.value as Token;
    }
    const parts = node.value as { left: Token; right: Token };
    if (node.type === 'AndExpression' || node.type === 'OrExpression') {
      const op = node.type === 'AndExpression' ? 'and' : 'or';
      return [...this.flatten(parts.left), op, ...this.flatten(parts.right)];
    }
    if (node.type === 'NotExpression') return ['not', ...this.flatten(node.value as Token)];
    if (node.type === 'BoolParenExpression' || node.type === 'ParenExpression') {
      return [this.translate(node.value as Token)];
    }
    return [this.leaf(node)];
  }

  private leaf(token: Token): FilterNode {
    const node = this.unwrap(token);
    const parts = node.value as { left: Token; right: Token };
    const comparison = comparisons[node.type];
    if (comparison) {
      // Dataverse turns a filter into a query on the table: a comparison starts with one of its columns.
      const column = this.column(parts.left);
      if (!column) {
        throw new FilterError(
          `The left side of the '${comparison.name}' operator must be a property of the entity.`,
        );
      }
      const right = this.operand(parts.right);
      const compatible = right.kind === 'column' ? right.type === column.type : fits(column.type, right);
      if (!compatible) {
        const found = right.kind === 'column' ? edmName[right.type] : right.edm;
        throw new FilterError(
          `A binary operator with incompatible types was detected. Found operand types '${edmName[column.type]}' and '${found}' for operator kind '${comparison.name}'.`,
        );
      }
      return { type: 'compare', op: comparison.op, column, right };
    }
    if (node.type === 'MethodCallExpression') {
      const call = node.value as { method: string; parameters: Token[] };
      const name = call.method;
      if (name !== 'contains' && name !== 'startswith' && name !== 'endswith') {
        throw new FilterError(`The function '${name}' is not supported by this sandbox.`);
      }
      const [first, second] = call.parameters;
      const column = first ? this.column(first) : undefined;
      const text = second ? this.operand(second) : undefined;
      if (column?.type !== 'string' || text?.kind !== 'literal' || text.edm !== 'Edm.String') {
        throw new FilterError(`The function '${name}' takes a text column and a string literal.`);
      }
      return { type: 'function', name, column, text: String(text.value) };
    }
    throw new FilterError(`The expression '${node.raw}' is not supported in a $filter.`);
  }
}

/** The library's tree for filter text already in URL form. */
function parseLibrary(text: string): Token {
  const expanded = expandIn(text);
  try {
    return defaultParser.filter(expanded) as unknown as Token;
  } catch (error) {
    throw new FilterError(`Syntax error in the $filter expression: ${(error as Error).message}.`);
  }
}

/**
 * Parses `$filter` text and checks every column and literal against the table, as Dataverse does before
 * it runs a query. Throws FilterError with Dataverse's wording for what it refuses.
 */
export function parseFilter(text: string, columns: Record<string, ColumnType>, typeName: string): FilterNode {
  return new Translator(columns, typeName).translate(
    parseLibrary(encodeForGrammar(expandListFunctions(text))),
  );
}

/** Parses `$orderby` (`createdon desc,lastname`) into columns and directions. */
export function parseOrderBy(
  text: string,
  columns: Record<string, ColumnType>,
  typeName: string,
): OrderByItem[] {
  let tree: Token;
  try {
    tree = defaultParser.query(`$orderby=${encodeForGrammar(text)}`) as unknown as Token;
  } catch (error) {
    throw new FilterError(`Syntax error in the $orderby expression: ${(error as Error).message}.`);
  }
  const option = (tree.value as { options: Token[] }).options[0];
  const items = (option?.value as { items?: Token[] } | undefined)?.items ?? [];
  return items.map((item) => {
    const { expr, direction } = item.value as { expr: Token; direction: number };
    const name = expr.raw;
    const type = columns[name];
    if (!identifier.test(name) || !type) {
      throw new FilterError(`Could not find a property named '${name}' on type '${typeName}'.`);
    }
    return { column: name, type, descending: direction < 0 };
  });
}

/** Text folded as a `_CI_AI` collation compares it: lower case, accents (combining marks) dropped. */
function collated(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** A column's value in a form that compares as Dataverse compares it; empty text counts as null. */
function comparable(value: ColumnValue | undefined, type: ColumnType): string | number | boolean | null {
  if (value === null || value === undefined || value === '') return null;
  if (type === 'datetime') return Date.parse(String(value));
  if (type === 'guid') return String(value).toLowerCase();
  if (type === 'string') return collated(String(value));
  return value;
}

function compare(op: ComparisonOperator, left: unknown, right: unknown): boolean {
  if (left === null || right === null) {
    if (op === 'eq') return left === right;
    if (op === 'ne') return left !== right;
    return false;
  }
  const a = left as string | number | boolean;
  const b = right as string | number | boolean;
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
  }
}

/** Whether a row matches the filter: only a true answer selects it, an unknown (null) one does not. */
export function evaluateFilter(node: FilterNode, row: DataverseRow): boolean {
  return truth(node, row) === true;
}

/**
 * The filter's answer for a row in three-valued logic: a string function of a null column is null (OData
 * 4.01 Part 2, 5.1.1.7: "If any argument is null, the function returns null"), `not` of null stays null
 * and `and`/`or` combine it as SQL does, so `not contains(x,'a')` skips rows whose x is null, as SQL
 * Server's `NOT LIKE` under Dataverse does. Comparisons with null follow OData's own rules (`eq null`).
 */
function truth(node: FilterNode, row: DataverseRow): boolean | null {
  switch (node.type) {
    case 'and': {
      const left = truth(node.left, row);
      const right = truth(node.right, row);
      if (left === false || right === false) return false;
      return left === null || right === null ? null : true;
    }
    case 'or': {
      const left = truth(node.left, row);
      const right = truth(node.right, row);
      if (left === true || right === true) return true;
      return left === null || right === null ? null : false;
    }
    case 'not': {
      const operand = truth(node.operand, row);
      return operand === null ? null : !operand;
    }
    case 'compare': {
      const left = comparable(row[node.column.name], node.column.type);
      const right =
        node.right.kind === 'column'
          ? comparable(row[node.right.name], node.right.type)
          : comparable(node.right.value, node.column.type);
      return compare(node.op, left, right);
    }
    case 'function': {
      const value = comparable(row[node.column.name], 'string');
      if (typeof value !== 'string') return null;
      const text = collated(node.text);
      if (node.name === 'contains') return value.includes(text);
      return node.name === 'startswith' ? value.startsWith(text) : value.endsWith(text);
    }
  }
}

/** A sort comparator for `$orderby`; nulls sort first in ascending order, as SQL Server sorts them. */
export function orderRows(items: OrderByItem[]): (a: DataverseRow, b: DataverseRow) => number {
  return (a, b) => {
    for (const item of items) {
      const left = comparable(a[item.column], item.type);
      const right = comparable(b[item.column], item.type);
      if (left === right) continue;
      const order = left === null ? -1 : right === null ? 1 : left < right ? -1 : 1;
      return item.descending ? -order : order;
    }
    return 0;
  };
}
