import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SandboxStore } from '../framework/sandbox-definition.js';
import {
  booleanDefaults,
  type ColumnValue,
  type DataverseRow,
  type EntityDefinition,
  entityDefinitions,
  systemColumns,
} from './columns.js';

export const dynamicsSandboxOptionsSchema = z.object({
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** The org URL tokens are issued for (`<org>/.default`); defaults to the sandbox's own URL. */
  orgUrl: z.url().optional(),
  tokenLifetimeSeconds: z.number().int().min(1).default(3600),
  /** Service-protection limits, per application user; Dataverse's are 6000 per 300 s and 52 at once. */
  requestsPerWindow: z.number().int().min(1).default(6000),
  windowSeconds: z.number().int().min(1).default(300),
  maxConcurrent: z.number().int().min(1).default(52),
  /** Privileges the application user's role lacks (`prvDeletecontact`), for permission tests. */
  deniedPrivileges: z.array(z.string()).default([]),
  /** Custom text columns on both tables, such as the connector's GA client id column. */
  customColumns: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/)).default(['new_gaclientid']),
  /** Largest page served; Dataverse allows at most 5000 rows per page. */
  maxPageSize: z.number().int().min(1).max(5000).default(5000),
  /** Tables with auditing on: each create, update and delete of their rows leaves an audit entry. */
  auditedTables: z.array(z.string()).default(['contacts', 'leads']),
  /** Tables with change tracking enabled; a `Prefer: odata.track-changes` on any other is ignored. */
  changeTrackingTables: z.array(z.string()).default(['contacts', 'leads']),
  /** How long a `$deltatoken` stays valid; Dataverse's default is 7 days. */
  deltaTokenLifetimeSeconds: z
    .number()
    .int()
    .min(1)
    .default(7 * 24 * 3600),
});
export type DynamicsSandboxOptions = z.input<typeof dynamicsSandboxOptionsSchema>;
type ResolvedOptions = z.output<typeof dynamicsSandboxOptionsSchema>;

const seedRowSchema = z.record(
  z.string().regex(/^[a-z_][a-z0-9_]*$/),
  z.union([z.string(), z.boolean(), z.number(), z.null()]),
);
export const dynamicsSeedSchema = z.object({
  contacts: z.array(seedRowSchema).default([]),
  leads: z.array(seedRowSchema).default([]),
  /** Activity rows; `_regardingobjectid_value` names the contact or lead they are about. */
  emails: z.array(seedRowSchema).default([]),
  phonecalls: z.array(seedRowSchema).default([]),
  appointments: z.array(seedRowSchema).default([]),
  tasks: z.array(seedRowSchema).default([]),
  /** Replaces the denied privileges (an empty list gives every privilege back). */
  deniedPrivileges: z.array(z.string()).optional(),
});
export type DynamicsSeed = z.input<typeof dynamicsSeedSchema>;

/** The activity tables whose rows regard a contact or a lead, and go with it when it is deleted. */
const regardingActivitySets = ['emails', 'phonecalls', 'appointments', 'tasks'] as const;

/** A client mistake Dataverse answers with 400 (unknown column, wrong type, read-only column). */
export class DataverseInputError extends Error {
  readonly statusCode = 400;
}

/** A row's removal, kept so that a delta link can report it as a deleted entity. */
export interface Deletion {
  id: string;
  version: number;
}

/**
 * One row of Dataverse's audit table (`audit`): what happened to a record and when. Dataverse keeps these
 * after the record is deleted, until DeleteRecordChangeHistory (or retention) removes them
 * (learn.microsoft.com/power-apps/developer/data-platform/auditing/delete-audit-data).
 */
export interface AuditEntry {
  /** Dataverse's audit operation: 1 Create, 2 Update, 3 Delete. */
  operation: 1 | 2 | 3;
  /** The columns the operation set, as Dataverse keeps old and new values (the sandbox keeps names only). */
  attributes: string[];
  createdon: string;
}

interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

/** The sandbox's org: its tables, the tokens Entra issued, and the service-protection counters. */
export class DynamicsStore implements SandboxStore<DynamicsSeed> {
  readonly options: ResolvedOptions;
  readonly entities: Record<string, EntityDefinition>;
  tables = new Map<string, Map<string, DataverseRow>>();
  deniedPrivileges = new Set<string>();
  private tokens = new Map<string, IssuedToken>();
  private requestTimes = new Map<string, number[]>();
  private inFlight = new Map<string, number>();
  /** Every create, update and delete takes the next version, so a delta token is an exact point in time. */
  private version = 1000;
  /** Versions at or below this were wiped by a reset: a token from before it cannot say what was lost. */
  private resetVersion = 1000;
  deletions = new Map<string, Deletion[]>();
  /** Audit history per record, keyed `<logical name>:<id>`; it outlives the record. */
  audit = new Map<string, AuditEntry[]>();
  private changeTrackingSkewMs = 0;

  constructor(options: DynamicsSandboxOptions) {
    this.options = dynamicsSandboxOptionsSchema.parse(options);
    this.entities = entityDefinitions(this.options.customColumns);
    this.reset();
  }

  snapshot() {
    return {
      ...Object.fromEntries(
        Object.keys(this.entities).map((set) => [set, [...(this.tables.get(set)?.values() ?? [])]]),
      ),
      /** How many audit entries each record has, deleted records included. */
      audit: Object.fromEntries([...this.audit].map(([key, entries]) => [key, entries.length])),
    };
  }

  private recordAudit(
    entitySet: string,
    id: string,
    operation: AuditEntry['operation'],
    attributes: string[],
  ) {
    const entity = this.entities[entitySet];
    if (!entity || !this.options.auditedTables.includes(entitySet)) return;
    const key = `${entity.logicalName}:${id.toLowerCase()}`;
    const entries = this.audit.get(key) ?? [];
    entries.push({ operation, attributes, createdon: new Date().toISOString() });
    this.audit.set(key, entries);
  }

  /** Removes a record's audit history (the DeleteRecordChangeHistory action); answers how many entries went. */
  deleteRecordChangeHistory(logicalName: string, id: string): number {
    const key = `${logicalName}:${id.toLowerCase()}`;
    const count = this.audit.get(key)?.length ?? 0;
    this.audit.delete(key);
    return count;
  }

  reset(): void {
    this.tables = new Map(Object.keys(this.entities).map((set) => [set, new Map()]));
    this.deletions = new Map(Object.keys(this.entities).map((set) => [set, []]));
    this.audit = new Map();
    // A reset takes a version of its own, so that every token minted before it is refused.
    this.resetVersion = ++this.version;
    this.deniedPrivileges = new Set(this.options.deniedPrivileges);
    this.tokens.clear();
    this.requestTimes.clear();
    this.inFlight.clear();
  }

  seed(data: DynamicsSeed): void {
    const parsed = dynamicsSeedSchema.parse(data);
    for (const row of parsed.contacts) this.create('contacts', row, { allowSystemColumns: true });
    for (const row of parsed.leads) this.create('leads', row, { allowSystemColumns: true });
    for (const set of ['emails', 'phonecalls', 'appointments', 'tasks'] as const)
      for (const row of parsed[set]) this.create(set, row, { allowSystemColumns: true });
    if (parsed.deniedPrivileges) this.deniedPrivileges = new Set(parsed.deniedPrivileges);
  }

  table(entitySet: string): Map<string, DataverseRow> {
    let table = this.tables.get(entitySet);
    // A state saved before a table existed restores without it; the table is then empty.
    if (!table && this.entities[entitySet]) {
      table = new Map();
      this.tables.set(entitySet, table);
      this.deletions.set(entitySet, []);
    }
    if (!table) throw new Error(`no table ${entitySet}`);
    return table;
  }

  /** Checks a client-supplied row against the table's columns; answers the typed values. */
  private validColumns(
    entity: EntityDefinition,
    values: Record<string, unknown>,
    allowSystemColumns: boolean,
  ): DataverseRow {
    const row: DataverseRow = {};
    for (const [name, value] of Object.entries(values)) {
      if (name.startsWith('@odata.')) continue;
      const bind = /^([a-z_]+)_([a-z_]+)@odata\.bind$/.exec(name);
      if (bind) {
        row[`_${bind[1]}_value`] = this.boundId(entity, bind[1] ?? '', bind[2] ?? '', value);
        continue;
      }
      const lookup = /^_([a-z_]+)_value$/.exec(name)?.[1];
      if (lookup && entity.lookups?.[lookup] && !allowSystemColumns) {
        throw new DataverseInputError(
          `The property '${name}' is a lookup's value and cannot be set; bind it with '${lookup}_<table>@odata.bind'.`,
        );
      }
      const type = entity.columns[name];
      if (!type) {
        throw new DataverseInputError(
          `Invalid property '${name}' was found in entity 'Microsoft.Dynamics.CRM.${entity.logicalName}'.`,
        );
      }
      if (systemColumns.has(name) && !allowSystemColumns) {
        throw new DataverseInputError(`The property '${name}' is read-only and cannot be set.`);
      }
      const fits =
        value === null ||
        (type === 'boolean' && typeof value === 'boolean') ||
        (type === 'integer' && typeof value === 'number') ||
        ((type === 'string' || type === 'guid' || type === 'datetime') && typeof value === 'string');
      if (!fits) {
        throw new DataverseInputError(
          `Cannot convert the literal '${String(value)}' to the expected type 'Edm.${type}' of '${name}'.`,
        );
      }
      row[name] = value as ColumnValue;
    }
    return row;
  }

  /**
   * The id a `<lookup>_<table>@odata.bind` names: `/<entity set>(<guid>)` of an existing row of one of the
   * lookup's target tables (associate-disassociate-entities-using-web-api).
   */
  private boundId(entity: EntityDefinition, lookup: string, target: string, value: unknown): string {
    const allowed = entity.lookups?.[lookup]?.targets ?? [];
    const targetEntity = Object.values(this.entities).find((e) => e.logicalName === target);
    if (!allowed.includes(target) || !targetEntity) {
      throw new DataverseInputError(
        `An undeclared property '${lookup}_${target}' which only has property annotations in the payload but no property value was found in the payload.`,
      );
    }
    const match = /^\/?([A-Za-z_]+)\(([0-9a-fA-F-]{36})\)$/.exec(String(value));
    if (!match || match[1] !== targetEntity.entitySet) {
      throw new DataverseInputError(
        `The @odata.bind value '${String(value)}' does not name a ${target} row.`,
      );
    }
    const id = (match[2] ?? '').toLowerCase();
    if (!this.table(targetEntity.entitySet).has(id)) {
      throw new DataverseInputError(`${target} With Id = ${id} Does Not Exist`);
    }
    return id;
  }

  create(
    entitySet: string,
    values: Record<string, unknown>,
    { allowSystemColumns = false } = {},
  ): DataverseRow {
    const entity = this.entities[entitySet];
    if (!entity) throw new Error(`no table ${entitySet}`);
    const given = this.validColumns(entity, values, allowSystemColumns);
    const now = new Date().toISOString();
    const id = typeof given[entity.idColumn] === 'string' ? String(given[entity.idColumn]) : randomUUID();
    const defaults = Object.entries(booleanDefaults).filter(([column]) => column in entity.columns);
    const row: DataverseRow = {
      ...Object.fromEntries(defaults),
      ...(entity.states ? { statecode: 0, statuscode: entity.states.byCode[0]?.statuses[0] ?? 1 } : {}),
      createdon: now,
      modifiedon: now,
      ...given,
      ...stateAndStatus(entity, given, id),
      [entity.idColumn]: id.toLowerCase(),
      versionnumber: ++this.version,
    };
    computeFullname(entity, row, given);
    this.table(entitySet).set(id.toLowerCase(), row);
    this.recordAudit(entitySet, id, 1, Object.keys(given));
    return row;
  }

  update(entitySet: string, id: string, values: Record<string, unknown>): DataverseRow | undefined {
    const entity = this.entities[entitySet];
    const row = this.table(entitySet).get(id.toLowerCase());
    if (!entity || !row) return undefined;
    const given = this.validColumns(entity, values, false);
    delete given[entity.idColumn];
    Object.assign(row, given, stateAndStatus(entity, given, id), {
      modifiedon: new Date().toISOString(),
      versionnumber: ++this.version,
    });
    computeFullname(entity, row, given);
    this.recordAudit(entitySet, id, 2, Object.keys(given));
    return row;
  }

  /**
   * Deletes a row and records the deletion for change tracking; false when there was no such row. Deleting
   * a contact or a lead deletes the activities regarding it too: Dataverse's relationships from contact and
   * lead to their activities (Contact_Phonecalls, Contact_Emails, Contact_Appointments, Contact_Tasks, and
   * the Lead_ ones) are parental, with CascadeConfiguration Delete: Cascade ("perform the action on all
   * referencing entity records"; learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact
   * and .../lead, one-to-many relationships; .../configure-entity-relationship-cascading-behavior).
   */
  remove(entitySet: string, id: string): boolean {
    const key = id.toLowerCase();
    if (!this.table(entitySet).delete(key)) return false;
    this.deletions.get(entitySet)?.push({ id: key, version: ++this.version });
    this.recordAudit(entitySet, key, 3, []);
    if (entitySet === 'contacts' || entitySet === 'leads') {
      for (const activities of regardingActivitySets) {
        for (const [activityId, row] of this.table(activities)) {
          if (String(row._regardingobjectid_value ?? '').toLowerCase() === key)
            this.remove(activities, activityId);
        }
      }
    }
    return true;
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Whether a delta token minted at this version still describes an unbroken history. */
  deltaVersionValid(version: number, issuedAtMs: number): boolean {
    if (version < this.resetVersion || version > this.version) return false;
    return this.changeTrackingNow() - issuedAtMs < this.options.deltaTokenLifetimeSeconds * 1000;
  }

  /** The change-tracking clock, which tests move forward to age delta tokens without waiting days. */
  changeTrackingNow(): number {
    return Date.now() + this.changeTrackingSkewMs;
  }

  advanceChangeTrackingClock(seconds: number): void {
    this.changeTrackingSkewMs += seconds * 1000;
  }

  issueToken(clientId: string): { token: string; expiresIn: number } {
    const token = randomBytes(32).toString('base64url');
    const expiresIn = this.options.tokenLifetimeSeconds;
    this.tokens.set(token, { clientId, expiresAt: Date.now() + expiresIn * 1000 });
    return { token, expiresIn };
  }

  /** The client id a live token was issued to, or undefined for unknown and expired tokens. */
  tokenOwner(token: string): string | undefined {
    const issued = this.tokens.get(token);
    if (!issued) return undefined;
    if (issued.expiresAt <= Date.now()) {
      this.tokens.delete(token);
      return undefined;
    }
    return issued.clientId;
  }

  /**
   * What an administrator does to cut the app off: its client secret deleted in Entra ID (a token request
   * with it then fails with invalid_client, AADSTS7000215) and its issued tokens revoked.
   */
  revokeClientSecret(): void {
    (this.options as { clientSecret: string }).clientSecret = randomBytes(30).toString('base64url');
    this.expireTokens();
  }

  /**
   * Ends every issued token now, although the clients were told they last longer: what a client sees
   * when a token is revoked or its clock is behind. Tests use it to expire a token mid-run.
   */
  expireTokens(): void {
    this.tokens.clear();
  }

  /**
   * Counts one request against a user's sliding window and concurrency limit. Answers which limit was
   * hit and how many seconds until a retry can succeed, or a release function for the concurrency slot.
   */
  admitRequest(
    user: string,
    /**
     * A `$batch` envelope takes a concurrency slot but is not counted as a request; each request inside it is
     * counted and runs in the envelope's slot (data-platform/api-limits counts the requests a batch holds).
     */
    { counted = true, concurrent = true }: { counted?: boolean; concurrent?: boolean } = {},
  ): { limit: 'requests' | 'concurrency'; retryAfterSeconds: number } | { release: () => void } {
    const now = Date.now();
    const windowMs = this.options.windowSeconds * 1000;
    const inFlight = this.inFlight.get(user) ?? 0;
    if (concurrent && inFlight >= this.options.maxConcurrent)
      return { limit: 'concurrency', retryAfterSeconds: 1 };
    const times = (this.requestTimes.get(user) ?? []).filter((t) => t > now - windowMs);
    if (counted && times.length >= this.options.requestsPerWindow) {
      this.requestTimes.set(user, times);
      const oldest = times[0] ?? now;
      return {
        limit: 'requests',
        retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)),
      };
    }
    if (counted) times.push(now);
    this.requestTimes.set(user, times);
    if (!concurrent) return { release: () => {} };
    this.inFlight.set(user, inFlight + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(user, (this.inFlight.get(user) ?? 1) - 1);
      },
    };
  }

  /**
   * The org's rows, deletions and audit entries as they are now; calling the answer puts them back (versions
   * only ever grow, so a delta token minted meanwhile stays a point in time). A `$batch` change set "succeeds or
   * fails as a group": a failure inside one rolls back what it already did.
   */
  checkpoint(): () => void {
    const tables = new Map(
      [...this.tables].map(([set, rows]) => [set, new Map([...rows].map(([id, row]) => [id, { ...row }]))]),
    );
    const deletions = new Map([...this.deletions].map(([set, list]) => [set, [...list]]));
    const audit = new Map([...this.audit].map(([key, entries]) => [key, [...entries]]));
    return () => {
      this.tables = tables;
      this.deletions = deletions;
      this.audit = audit;
    };
  }
}

/**
 * The `statecode`/`statuscode` pair a write leaves, checked as Dataverse checks it: a status reason must
 * belong to the state; a state alone takes its default reason; a reason alone moves to its state. Answers
 * nothing when the write sets neither.
 */
function stateAndStatus(
  entity: EntityDefinition,
  given: DataverseRow,
  id: string,
): { statecode?: number; statuscode?: number } {
  const stateGiven = typeof given.statecode === 'number';
  const statusGiven = typeof given.statuscode === 'number';
  if (!entity.states || (!stateGiven && !statusGiven)) return {};
  const { stateType, byCode } = entity.states;
  if (stateGiven) {
    const statecode = given.statecode as number;
    const state = byCode[statecode];
    if (!state) {
      throw new DataverseInputError(
        `${statecode} is not a valid state code on ${entity.logicalName} with Id ${id}.`,
      );
    }
    const statuscode = statusGiven ? (given.statuscode as number) : state.statuses[0];
    if (statuscode === undefined || !state.statuses.includes(statuscode)) {
      throw new DataverseInputError(
        `${statuscode} is not a valid status code for state code ${stateType}.${state.name} on ${entity.logicalName} with Id ${id}.`,
      );
    }
    return { statecode, statuscode };
  }
  const statuscode = given.statuscode as number;
  const owner = Object.entries(byCode).find(([, state]) => state.statuses.includes(statuscode));
  if (!owner) {
    throw new DataverseInputError(
      `${statuscode} is not a valid status code on ${entity.logicalName} with Id ${id}.`,
    );
  }
  return { statecode: Number(owner[0]), statuscode };
}

/**
 * Dataverse computes a contact's or lead's `fullname` from `firstname` and `lastname` (the contact and lead
 * table references list FullName among the read-only columns: "Combines and shows the contact's first and
 * last names so that the full name can be displayed in views and reports";
 * learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact and .../lead). So a
 * write of either name recomputes it, in the "First Last" order this sandbox's organisation uses.
 */
function computeFullname(
  entity: { columns: Record<string, unknown> },
  row: DataverseRow,
  given: Record<string, unknown>,
): void {
  if (!('fullname' in entity.columns) || !('firstname' in given || 'lastname' in given)) return;
  const parts = [row.firstname, row.lastname].filter(
    (part): part is string => typeof part === 'string' && part.trim() !== '',
  );
  row.fullname = parts.length > 0 ? parts.join(' ') : null;
}
