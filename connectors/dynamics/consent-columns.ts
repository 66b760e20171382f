import type { Purpose } from '../../domain/purposes.js';
import type { DecisionsInForce } from '../connector.js';
import { type ConsentFieldRule, type FieldState, sharedFieldState } from '../consent-fields.js';
import type { DynamicsPurposeColumns } from './config.js';

/** One consent column of contacts and leads and the purposes mapped to it. */
export interface DynamicsConsentColumn {
  column: string;
  /** True for `followemail`-like columns, where true means allowed; `donot*` columns mean "do not". */
  inverted: boolean;
  purposes: Purpose[];
}

/** The purpose map grouped by column: several purposes may share one (the default shares donotbulkemail). */
export function dynamicsConsentColumns(map: DynamicsPurposeColumns): DynamicsConsentColumn[] {
  const byColumn = new Map<string, DynamicsConsentColumn>();
  for (const [purpose, mapping] of Object.entries(map) as [
    Purpose,
    { column: string; inverted: boolean },
  ][]) {
    const entry = byColumn.get(mapping.column) ?? {
      column: mapping.column,
      inverted: mapping.inverted,
      purposes: [],
    };
    entry.purposes.push(purpose);
    byColumn.set(mapping.column, entry);
  }
  return [...byColumn.values()];
}

/** The Dataverse value a column takes for a field state: withdrawn is true on donot*, false on inverted. */
export function columnValue(state: Exclude<FieldState, 'undecided'>, inverted: boolean): boolean {
  return state === 'withdrawn' ? !inverted : inverted;
}

/** Each column's desired value, for the columns some mapped purpose has decided. */
export function desiredColumns(
  columns: DynamicsConsentColumn[],
  decisions: DecisionsInForce,
): { column: DynamicsConsentColumn; state: Exclude<FieldState, 'undecided'>; value: boolean }[] {
  return columns.flatMap((column) => {
    const state = sharedFieldState(column.purposes, decisions);
    return state === 'undecided' ? [] : [{ column, state, value: columnValue(state, column.inverted) }];
  });
}

export function dynamicsFieldRules(map: DynamicsPurposeColumns): ConsentFieldRule[] {
  return dynamicsConsentColumns(map).map((column) => ({
    system: 'dynamics',
    field: column.column,
    purposes: column.purposes,
    rule: `on contacts and leads: ${columnValue('withdrawn', column.inverted)} when any of them is withdrawn, else ${columnValue('granted', column.inverted)} once one is granted`,
  }));
}
