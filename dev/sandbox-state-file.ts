import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';

/**
 * Keeps a sandbox's records in the data dir across `consent-hub dev` restarts, so an erased person stays
 * erased and a reconciliation after a restart sees what the last session left. The sandboxes are written
 * from the vendors' documentation and know nothing of files; this copies a store's own fields (Maps, Sets,
 * arrays, plain records, and nested helper objects field by field) with Node's structured serialiser, and
 * puts them back into a fresh store of the same vendor.
 *
 * Left out: configuration the store is built from (`options`, `entities`) and counters that only make sense
 * within one process's life (requests in flight, rate windows, token buckets), which start empty again.
 */
const notState = new Set(['options', 'entities', 'inFlight', 'requestTimes', 'buckets']);
const nested = Symbol.for('consent-hub.nested-fields');

type Fields = Record<string, unknown>;

function isHelperObject(value: unknown): value is Fields {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Map || value instanceof Set || Array.isArray(value) || value instanceof Date)
    return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype !== Object.prototype && prototype !== null;
}

function capture(object: Fields): Fields {
  const fields: Fields = {};
  for (const [name, value] of Object.entries(object)) {
    if (notState.has(name) || typeof value === 'function') continue;
    fields[name] = isHelperObject(value) ? { [nested.description as string]: capture(value) } : value;
  }
  return fields;
}

function restore(target: Fields, fields: Fields): void {
  for (const [name, value] of Object.entries(fields)) {
    const inner = (value as Fields | undefined)?.[nested.description as string];
    if (inner && isHelperObject(target[name])) restore(target[name] as Fields, inner as Fields);
    else target[name] = value;
  }
}

export interface SandboxStateFile {
  /** True when the file held a state that was loaded into the store. */
  loaded: boolean;
  /** Writes the store's state if it changed since the last write (atomically: a temp file, then rename). */
  save(): void;
}

export function sandboxStateFile(path: string, store: object): SandboxStateFile {
  let loaded = false;
  let last: Buffer | undefined;
  if (existsSync(path)) {
    const buffer = readFileSync(path);
    restore(store as Fields, deserialize(buffer) as Fields);
    last = buffer;
    loaded = true;
  }
  return {
    loaded,
    save() {
      const buffer = serialize(capture(store as Fields));
      if (last?.equals(buffer)) return;
      writeFileSync(`${path}.tmp`, buffer, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
      last = buffer;
    },
  };
}
