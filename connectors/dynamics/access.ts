import type { Client, GraphRequest } from '@microsoft/microsoft-graph-client';
import { z } from 'zod';
import type { AccessField, AccessHoldings, AccessRecord, SubjectIdentifiers } from '../connector.js';
import { NonRetryableVendorError } from '../connector-errors.js';
import { type ODataFilter, or } from './odata-filter.js';

/** What the access read needs from the connector: its client, its call wrapper and its paging. */
export interface DataverseAccessDeps {
  client: Client;
  /** `<org>/api/data/v9.2`: every `@odata.nextLink` must start with it. */
  apiRoot: string;
  pageHeader: Record<string, string>;
  /** The connector's call: the concurrency limit and the one token renewal on 401. */
  call: <T>(run: () => Promise<T>) => Promise<T>;
  /** The person filter of the connector (any of the three email columns). */
  personFilter: (email: string) => ODataFilter;
  gaClientIdColumn: string;
}

const personTables = [
  { kind: 'contact', entitySet: 'contacts', idColumn: 'contactid' },
  { kind: 'lead', entitySet: 'leads', idColumn: 'leadid' },
] as const;

/**
 * The activity tables that hold communication with a person (emails, phone calls, meetings, tasks); each row
 * names the record it is about in the `regardingobjectid` lookup, read as `_regardingobjectid_value`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#lookup-property-data
 * and .../activities-email-entities).
 */
const activityTables = [
  { kind: 'email', entitySet: 'emails' },
  { kind: 'phonecall', entitySet: 'phonecalls' },
  { kind: 'appointment', entitySet: 'appointments' },
  { kind: 'task', entitySet: 'tasks' },
] as const;
/** Regarding ids per `$filter`: keeps the URL well under Dataverse's 32 KB limit. */
const idsPerActivityQuery = 25;

const pageSchema = z.object({
  value: z.array(z.record(z.string(), z.unknown())),
  '@odata.nextLink': z.string().optional(),
});

const labelSchema = z.object({ Label: z.string() }).nullable().optional();
const attributesSchema = z.object({
  value: z.array(
    z.object({
      LogicalName: z.string(),
      DisplayName: z
        .object({
          UserLocalizedLabel: labelSchema,
          LocalizedLabels: z.array(z.object({ Label: z.string() })),
        })
        .partial()
        .nullable()
        .optional(),
    }),
  ),
});

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `column eq <guid>`: OData writes GUID literals unquoted. */
function guidEquals(column: string, id: string): ODataFilter {
  if (!guidPattern.test(id)) throw new Error('not a GUID');
  return `${column} eq ${id}` as ODataFilter;
}

/**
 * Everything Dynamics holds about a person: each matching contact and lead with all its columns (no
 * `$select`), each column with its display name from the table definition
 * (`EntityDefinitions(LogicalName='<table>')/Attributes?$select=LogicalName,DisplayName`;
 * learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api), and every email, phone
 * call, appointment and task regarding one of those rows. Pages through `@odata.nextLink` and calls
 * `progress` after each page.
 */
export async function collectDynamicsAccess(
  deps: DataverseAccessDeps,
  subject: SubjectIdentifiers,
  progress: () => void = () => {},
): Promise<AccessHoldings> {
  const labels = new Map<string, Map<string, string>>();
  const labelsOf = async (logicalName: string) => {
    let known = labels.get(logicalName);
    if (!known) {
      const answer = attributesSchema.parse(
        await deps.call(() =>
          deps.client
            .api(`/EntityDefinitions(LogicalName='${logicalName}')/Attributes`)
            .select('LogicalName,DisplayName')
            .get(),
        ),
      );
      known = new Map();
      for (const attribute of answer.value) {
        const label =
          attribute.DisplayName?.UserLocalizedLabel?.Label ??
          attribute.DisplayName?.LocalizedLabels?.[0]?.Label;
        if (label) known.set(attribute.LogicalName, label);
      }
      labels.set(logicalName, known);
      progress();
    }
    return known;
  };

  const readAll = (entitySet: string, filter: ODataFilter) => readAllRows(deps, entitySet, filter, progress);

  const records: AccessRecord[] = [];
  const gaClientIds = new Set<string>();
  const people: { kind: string; id: string }[] = [];
  for (const table of personTables) {
    const rows = await readAll(table.entitySet, deps.personFilter(subject.email));
    if (rows.length === 0) continue;
    const known = await labelsOf(table.kind);
    for (const row of rows) {
      const id = z.string().parse(row[table.idColumn]);
      people.push({ kind: table.kind, id });
      const ga = row[deps.gaClientIdColumn];
      if (typeof ga === 'string' && ga.trim() !== '') gaClientIds.add(ga.trim());
      records.push({ kind: table.kind, id, fields: fieldsOf(row, known) });
    }
  }

  for (const table of activityTables) {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < people.length; i += idsPerActivityQuery) {
      const batch = people.slice(i, i + idsPerActivityQuery);
      found.push(
        ...(await readAll(
          table.entitySet,
          or(...batch.map((p) => guidEquals('_regardingobjectid_value', p.id))),
        )),
      );
    }
    if (found.length === 0) continue;
    const known = await labelsOf(table.kind);
    for (const row of found) {
      const regardingId = String(row._regardingobjectid_value ?? '');
      const regarding = people.find((p) => p.id.toLowerCase() === regardingId.toLowerCase());
      records.push({
        kind: table.kind,
        id: z.string().parse(row.activityid),
        ...(regarding ? { regarding } : {}),
        fields: fieldsOf(row, known),
      });
    }
  }
  return { records, statements: [], gaClientIds: [...gaClientIds] };
}

/**
 * Every row of `entitySet` matching `filter` (with `select`, only those columns), following
 * `@odata.nextLink` within the org and calling `progress` after each page.
 */
async function readAllRows(
  deps: Pick<DataverseAccessDeps, 'client' | 'apiRoot' | 'pageHeader' | 'call'>,
  entitySet: string,
  filter: ODataFilter,
  progress: () => void = () => {},
  select?: string,
): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  // The Graph client pastes $filter into the URL as given; encoding keeps `&`, `+` and `#` literal.
  let request: GraphRequest = deps.client
    .api(`/${entitySet}`)
    .filter(encodeURIComponent(filter))
    .headers(deps.pageHeader);
  if (select) request = request.select(select);
  for (;;) {
    const page = pageSchema.parse(await deps.call(() => request.get()));
    rows.push(...page.value);
    progress();
    const next = page['@odata.nextLink'];
    if (!next) return rows;
    if (!next.startsWith(`${deps.apiRoot}/`)) {
      throw new NonRetryableVendorError({
        system: 'dynamics',
        operation: 'access',
        reason: 'Dataverse sent a next-page link outside the org; refusing to follow it',
      });
    }
    request = deps.client.api(next).headers(deps.pageHeader);
  }
}

/**
 * How many emails, phone calls, appointments and tasks regard the given contacts and leads, by activity kind
 * (kinds with none left out). An erasure counts them before it deletes the rows, because Dataverse deletes
 * them with the row: the relationships from contact and lead to their activities (Contact_Phonecalls,
 * Lead_Emails, ...) are parental, CascadeConfiguration Delete: Cascade
 * (learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior;
 * reference/entities/contact and lead, one-to-many relationships). So they are not deleted one by one.
 */
export async function countRegardingActivities(
  deps: Pick<DataverseAccessDeps, 'client' | 'apiRoot' | 'pageHeader' | 'call'>,
  regarding: readonly { id: string }[],
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of activityTables) {
    let count = 0;
    for (let i = 0; i < regarding.length; i += idsPerActivityQuery) {
      const batch = regarding.slice(i, i + idsPerActivityQuery);
      const filter = or(...batch.map((p) => guidEquals('_regardingobjectid_value', p.id)));
      count += (await readAllRows(deps, table.entitySet, filter, () => {}, 'activityid')).length;
    }
    if (count > 0) counts[table.kind] = count;
  }
  return counts;
}

/**
 * A row's columns as fields, OData annotations left out. A lookup is read as `_<name>_value`; its display
 * name is the lookup attribute's (`<name>`).
 */
function fieldsOf(row: Record<string, unknown>, labels: Map<string, string>): AccessField[] {
  return Object.entries(row)
    .filter(([name]) => !name.includes('@'))
    .map(([name, value]) => {
      const logical = /^_(.+)_value$/.exec(name)?.[1] ?? name;
      const label = labels.get(logical);
      return { name, ...(label ? { label } : {}), value };
    });
}
