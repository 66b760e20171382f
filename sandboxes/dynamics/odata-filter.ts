import type { ColumnType, ColumnValue, DataverseRow } from './columns.js';

/**
 * A small OData `$filter` language for the sandbox: `eq`/`ne` between a column and a literal (string,
 * Boolean, null), `and`, `or` and parentheses. It is tokenised and parsed into a tree by recursive descent
 * and then evaluated over rows, so nothing in a filter is ever run as code and an injected `or 1 eq 1`
 * is either a literal's text or a syntax error, never a widened query.
 */
export class FilterError extends Error {}

type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'number'; value: number };

export type FilterNode =
  | { type: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { type: 'compare'; op: 'eq' | 'ne'; property: string; literal: Literal };

type Token =
  | { kind: 'lparen' | 'rparen'; at: number }
  | { kind: 'word'; text: string; at: number }
  | { kind: 'literal'; literal: Literal; at: number };

const comparisonOperators = new Set(['eq', 'ne']);
const unsupportedOperators = new Set([
  'gt',
  'ge',
  'lt',
  'le',
  'has',
  'in',
  'not',
  'add',
  'sub',
  'mul',
  'div',
]);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'lparen' : 'rparen', at: i });
      i++;
    } else if (ch === "'") {
      // A string literal; a doubled quote inside it stands for one quote.
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new FilterError(`Unterminated string literal at position ${start}.`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      tokens.push({ kind: 'literal', literal: { kind: 'string', value }, at: start });
    } else if (/[0-9-]/.test(ch)) {
      const match = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!match) throw new FilterError(`Syntax error at position ${i}.`);
      tokens.push({ kind: 'literal', literal: { kind: 'number', value: Number(match[0]) }, at: i });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0] ?? ch;
      if (word === 'true' || word === 'false') {
        tokens.push({ kind: 'literal', literal: { kind: 'boolean', value: word === 'true' }, at: i });
      } else if (word === 'null') {
        tokens.push({ kind: 'literal', literal: { kind: 'null' }, at: i });
      } else {
        tokens.push({ kind: 'word', text: word, at: i });
      }
      i += word.length;
    } else {
      throw new FilterError(`Syntax error: character '${ch}' at position ${i} is not valid in a filter.`);
    }
  }
  return tokens;
}

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): FilterNode {
    if (this.tokens.length === 0) throw new FilterError('The $filter expression is empty.');
    const node = this.orExpression();
    const extra = this.tokens[this.position];
    if (extra)
      throw new FilterError(`Syntax error at position ${extra.at}: unexpected token after the expression.`);
    return node;
  }

  private peekWord(text: string): boolean {
    const token = this.tokens[this.position];
    return token?.kind === 'word' && token.text === text;
  }

  private orExpression(): FilterNode {
    let left = this.andExpression();
    while (this.peekWord('or')) {
      this.position++;
      left = { type: 'or', left, right: this.andExpression() };
    }
    return left;
  }

  private andExpression(): FilterNode {
    let left = this.primary();
    while (this.peekWord('and')) {
      this.position++;
      left = { type: 'and', left, right: this.primary() };
    }
    return left;
  }

  private primary(): FilterNode {
    const token = this.tokens[this.position];
    if (!token) throw new FilterError('Syntax error: the expression ends too early.');
    if (token.kind === 'lparen') {
      this.position++;
      const inner = this.orExpression();
      const closing = this.tokens[this.position];
      if (closing?.kind !== 'rparen')
        throw new FilterError(`Syntax error: ')' expected at position ${token.at}.`);
      this.position++;
      return inner;
    }
    return this.comparison();
  }

  private comparison(): FilterNode {
    const left = this.tokens[this.position++];
    const operator = this.tokens[this.position++];
    const right = this.tokens[this.position++];
    if (!left || !operator || !right) throw new FilterError('Syntax error: incomplete comparison.');
    if (operator.kind !== 'word' || !comparisonOperators.has(operator.text)) {
      const text = operator.kind === 'word' ? operator.text : operator.kind;
      if (operator.kind === 'word' && unsupportedOperators.has(operator.text)) {
        throw new FilterError(`The operator '${text}' is not supported by this sandbox.`);
      }
      throw new FilterError(`Syntax error at position ${operator.at}: 'eq' or 'ne' expected.`);
    }
    const op = operator.text as 'eq' | 'ne';
    // OData lets the literal stand on either side; one side must name a column.
    if (left.kind === 'word' && right.kind === 'literal')
      return { type: 'compare', op, property: left.text, literal: right.literal };
    if (left.kind === 'literal' && right.kind === 'word')
      return { type: 'compare', op, property: right.text, literal: left.literal };
    throw new FilterError(
      `Syntax error at position ${left.at}: a comparison needs one column and one literal.`,
    );
  }
}

export function parseFilter(text: string): FilterNode {
  return new Parser(tokenize(text)).parse();
}

/** Checks every column exists and every literal fits its column's type, as Dataverse does before running. */
export function checkFilter(node: FilterNode, columns: Record<string, ColumnType>, typeName: string): void {
  if (node.type !== 'compare') {
    checkFilter(node.left, columns, typeName);
    checkFilter(node.right, columns, typeName);
    return;
  }
  const type = columns[node.property];
  if (!type) {
    throw new FilterError(`Could not find a property named '${node.property}' on type '${typeName}'.`);
  }
  const kind = node.literal.kind;
  const fits =
    kind === 'null' ||
    (kind === 'string' && (type === 'string' || type === 'guid' || type === 'datetime')) ||
    (kind === 'boolean' && type === 'boolean') ||
    (kind === 'number' && type === 'integer');
  if (!fits) {
    throw new FilterError(
      `A binary operator with incompatible types was detected. Found operand types '${type}' and '${kind}' for operator kind '${node.op}'.`,
    );
  }
}

function equals(value: ColumnValue | undefined, literal: Literal): boolean {
  if (literal.kind === 'null') return value === null || value === undefined || value === '';
  if (value === null || value === undefined) return false;
  // Dataverse compares text with a case-insensitive collation.
  if (literal.kind === 'string')
    return typeof value === 'string' && value.toLowerCase() === literal.value.toLowerCase();
  return value === literal.value;
}

export function evaluateFilter(node: FilterNode, row: DataverseRow): boolean {
  switch (node.type) {
    case 'and':
      return evaluateFilter(node.left, row) && evaluateFilter(node.right, row);
    case 'or':
      return evaluateFilter(node.left, row) || evaluateFilter(node.right, row);
    case 'compare': {
      const same = equals(row[node.property], node.literal);
      return node.op === 'eq' ? same : !same;
    }
  }
}
