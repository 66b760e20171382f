/**
 * The slice of the Dataverse schema the sandbox serves: two tables and the columns consent-hub touches, typed,
 * so that `$select`, `$filter` and writes are checked the way Dataverse checks them against its metadata.
 */
export type ColumnType = 'string' | 'boolean' | 'guid' | 'datetime' | 'integer';
export type ColumnValue = string | boolean | number | null;
export type DataverseRow = Record<string, ColumnValue>;

export interface EntityDefinition {
  /** The entity set name used in URLs (`contacts`). */
  entitySet: string;
  /** The logical name used in messages and privilege names (`contact`). */
  logicalName: string;
  idColumn: string;
  columns: Record<string, ColumnType>;
}

const personColumns: Record<string, ColumnType> = {
  firstname: 'string',
  lastname: 'string',
  fullname: 'string',
  emailaddress1: 'string',
  emailaddress2: 'string',
  emailaddress3: 'string',
  telephone1: 'string',
  donotbulkemail: 'boolean',
  donotemail: 'boolean',
  donotphone: 'boolean',
  donotpostalmail: 'boolean',
  donotsendmm: 'boolean',
  donotfax: 'boolean',
  followemail: 'boolean',
  createdon: 'datetime',
  modifiedon: 'datetime',
  versionnumber: 'integer',
};

/** Columns Dataverse sets itself; a client that writes them gets 400. */
export const systemColumns = new Set(['createdon', 'modifiedon', 'versionnumber']);

/** What a new row holds when the client leaves a Boolean out: Dataverse's defaults for these columns. */
export const booleanDefaults: Record<string, boolean> = {
  donotbulkemail: false,
  donotemail: false,
  donotphone: false,
  donotpostalmail: false,
  donotsendmm: false,
  donotfax: false,
  followemail: true,
};

export function entityDefinitions(customStringColumns: readonly string[]): Record<string, EntityDefinition> {
  const custom = Object.fromEntries(customStringColumns.map((c) => [c, 'string' as const]));
  return {
    contacts: {
      entitySet: 'contacts',
      logicalName: 'contact',
      idColumn: 'contactid',
      columns: { contactid: 'guid', ...personColumns, ...custom },
    },
    leads: {
      entitySet: 'leads',
      logicalName: 'lead',
      idColumn: 'leadid',
      columns: { leadid: 'guid', companyname: 'string', subject: 'string', ...personColumns, ...custom },
    },
  };
}
