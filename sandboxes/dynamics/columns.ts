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
  /** The table's display name and each column's, as `EntityDefinitions` serves them (English, 1033). */
  displayName: string;
  columnLabels: Record<string, string>;
  /**
   * Lookup columns, read as `_<name>_value` and written as `<name>_<table>@odata.bind` (a single-valued
   * navigation property). Their `_<name>_value` column is read-only: a client that writes it gets 400.
   */
  lookups?: Record<string, { targets: string[] }>;
  /**
   * The table's Status (`statecode`) options, each with its Status Reason (`statuscode`) options, the first
   * being the default Dataverse gives when only the state is set; `stateType` names the state enum in
   * Dataverse's messages (`ContactState`).
   */
  states?: { stateType: string; byCode: Record<number, { name: string; statuses: number[] }> };
}

const personColumns: Record<string, ColumnType> = {
  firstname: 'string',
  lastname: 'string',
  fullname: 'string',
  emailaddress1: 'string',
  emailaddress2: 'string',
  emailaddress3: 'string',
  telephone1: 'string',
  jobtitle: 'string',
  donotbulkemail: 'boolean',
  donotemail: 'boolean',
  donotphone: 'boolean',
  donotpostalmail: 'boolean',
  donotsendmm: 'boolean',
  donotfax: 'boolean',
  followemail: 'boolean',
  statecode: 'integer',
  statuscode: 'integer',
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
  donotbulkpostalmail: false,
};

/**
 * Status and Status Reason per table, from the table references
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact and .../lead):
 * contact 0 Active (1 Active), 1 Inactive (2 Inactive); lead 0 Open (1 New, 2 Contacted), 1 Qualified
 * (3 Qualified), 2 Disqualified (4 Lost, 5 Cannot Contact, 6 No Longer Interested, 7 Canceled).
 */
const contactStates: EntityDefinition['states'] = {
  stateType: 'ContactState',
  byCode: { 0: { name: 'Active', statuses: [1] }, 1: { name: 'Inactive', statuses: [2] } },
};
const leadStates: EntityDefinition['states'] = {
  stateType: 'LeadState',
  byCode: {
    0: { name: 'Open', statuses: [1, 2] },
    1: { name: 'Qualified', statuses: [3] },
    2: { name: 'Disqualified', statuses: [4, 5, 6, 7] },
  },
};

/**
 * Display names of the standard columns, as the contact and lead table references list them
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact and .../lead).
 */
const personLabels: Record<string, string> = {
  firstname: 'First Name',
  lastname: 'Last Name',
  fullname: 'Full Name',
  emailaddress1: 'Email',
  emailaddress2: 'Email Address 2',
  emailaddress3: 'Email Address 3',
  telephone1: 'Business Phone',
  jobtitle: 'Job Title',
  donotbulkemail: 'Do not allow Bulk Emails',
  donotemail: 'Do not allow Emails',
  donotphone: 'Do not allow Phone Calls',
  donotpostalmail: 'Do not allow Mails',
  donotsendmm: 'Send Marketing Materials',
  donotfax: 'Do not allow Faxes',
  followemail: 'Follow Email Activity',
  statecode: 'Status',
  statuscode: 'Status Reason',
  createdon: 'Created On',
  modifiedon: 'Modified On',
  versionnumber: 'Version Number',
};

/**
 * The activity tables (email, phone call, appointment, task): each row has `activityid` and the
 * `regardingobjectid` lookup to the record it is about (learn.microsoft.com/power-apps/developer/
 * data-platform/reference/entities/email, .../phonecall, .../appointment, .../task).
 */
const activityColumns: Record<string, ColumnType> = {
  activityid: 'guid',
  subject: 'string',
  description: 'string',
  _regardingobjectid_value: 'guid',
  scheduledstart: 'datetime',
  actualend: 'datetime',
  createdon: 'datetime',
  modifiedon: 'datetime',
  versionnumber: 'integer',
};
const activityLabels: Record<string, string> = {
  activityid: 'Activity',
  subject: 'Subject',
  description: 'Description',
  regardingobjectid: 'Regarding',
  scheduledstart: 'Start Date',
  actualend: 'Actual End',
  createdon: 'Created On',
  modifiedon: 'Modified On',
  versionnumber: 'Version Number',
};

function activityTable(entitySet: string, logicalName: string, displayName: string): EntityDefinition {
  return {
    entitySet,
    logicalName,
    idColumn: 'activityid',
    columns: activityColumns,
    displayName,
    columnLabels: activityLabels,
    lookups: { regardingobjectid: { targets: ['contact', 'lead'] } },
  };
}

export function entityDefinitions(customStringColumns: readonly string[]): Record<string, EntityDefinition> {
  const custom = Object.fromEntries(customStringColumns.map((c) => [c, 'string' as const]));
  // A custom column's display name is what its maker typed; the sandbox uses the logical name.
  const customLabels = Object.fromEntries(customStringColumns.map((c) => [c, c]));
  return {
    contacts: {
      entitySet: 'contacts',
      logicalName: 'contact',
      idColumn: 'contactid',
      // Only contacts have "Do not allow Bulk Mails" (donotbulkpostalmail); leads do not.
      columns: { contactid: 'guid', ...personColumns, donotbulkpostalmail: 'boolean', ...custom },
      displayName: 'Contact',
      columnLabels: {
        contactid: 'Contact',
        ...personLabels,
        donotbulkpostalmail: 'Do not allow Bulk Mails',
        ...customLabels,
      },
      states: contactStates,
    },
    leads: {
      entitySet: 'leads',
      logicalName: 'lead',
      idColumn: 'leadid',
      columns: { leadid: 'guid', companyname: 'string', subject: 'string', ...personColumns, ...custom },
      displayName: 'Lead',
      columnLabels: {
        leadid: 'Lead',
        companyname: 'Company Name',
        subject: 'Topic',
        ...personLabels,
        ...customLabels,
      },
      states: leadStates,
    },
    emails: activityTable('emails', 'email', 'Email'),
    phonecalls: activityTable('phonecalls', 'phonecall', 'Phone Call'),
    appointments: activityTable('appointments', 'appointment', 'Appointment'),
    tasks: activityTable('tasks', 'task', 'Task'),
  };
}
