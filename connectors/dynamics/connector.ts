import type { GraphRequest } from '@microsoft/microsoft-graph-client';
import pLimit, { type LimitFunction } from 'p-limit';
import { z } from 'zod';
import { canonicalMailbox, mailboxSpellings, normaliseEmail } from '../../domain/email.js';
import type { Purpose } from '../../domain/purposes.js';
import { mostFrequentNames } from '../../domain/redaction-names.js';
import type { Logger } from '../../logging/logger.js';
import type {
  ApplyConsentResult,
  BulkConsentWrite,
  BulkStatePlan,
  ChangeListRequest,
  ChangePage,
  Connector,
  ConsentReading,
  ConsentStateInTool,
  ConsentStateRequest,
  ConsentStateResult,
  ConsentVerification,
  ErasedRecord,
  EraseResult,
  FindResult,
  ObservedPerson,
  PurposeOutcome,
  RectificationPlan,
  RectifiedRecordRef,
  RectifyResult,
  RestrictedRecordRef,
  RestrictResult,
  SubjectIdentifiers,
  VendorRecordRef,
} from '../connector.js';
import type { ConnectorOperation } from '../connector-errors.js';
import { NonRetryableVendorError, RetryableVendorError } from '../connector-errors.js';
import { purposeOutcomeFor } from '../consent-fields.js';
import { collectDynamicsAccess, countRegardingActivities } from './access.js';
import { writeDynamicsConsentBatch } from './batch.js';
import type { DynamicsConfig } from './config.js';
import { desiredColumns, dynamicsConsentColumns } from './consent-columns.js';
import { createDataverseClient } from './dataverse-client.js';
import { classifyDynamicsError, isAlreadyGone, isExpiredDeltaToken, isUnauthorized } from './errors.js';
import { eq, ge, isIn, type ODataFilter, or } from './odata-filter.js';

type Kind = 'contact' | 'lead';

/**
 * The opt-out columns of each table (learn.microsoft.com/power-apps/developer/data-platform/reference/
 * entities/contact and .../lead): contacts also have `donotbulkpostalmail`, leads do not.
 */
const restrictedOptOutColumns: Record<Kind, string[]> = {
  contact: [
    'donotbulkemail',
    'donotbulkpostalmail',
    'donotemail',
    'donotfax',
    'donotphone',
    'donotpostalmail',
    'donotsendmm',
  ],
  lead: ['donotbulkemail', 'donotemail', 'donotfax', 'donotphone', 'donotpostalmail', 'donotsendmm'],
};

/**
 * The inactive state a restricted row is put in (same reference pages): contact statecode 1 Inactive with
 * statuscode 2 Inactive; lead statecode 2 Disqualified with statuscode 5 Cannot Contact (4 Lost, 6 No
 * Longer Interested and 7 Canceled are the other Disqualified reasons).
 */
const restrictedState: Record<Kind, { statecode: number; statuscode: number }> = {
  contact: { statecode: 1, statuscode: 2 },
  lead: { statecode: 2, statuscode: 5 },
};
const auditDeletionSchema = z.object({ DeletedEntriesCount: z.number().int().min(0) });
const tables: Record<Kind, { entitySet: string; idColumn: string }> = {
  contact: { entitySet: 'contacts', idColumn: 'contactid' },
  lead: { entitySet: 'leads', idColumn: 'leadid' },
};
const emailColumns = ['emailaddress1', 'emailaddress2', 'emailaddress3'] as const;
/**
 * The person's names on contacts and leads (both tables have them: learn.microsoft.com/power-apps/developer/
 * data-platform/reference/entities/contact, .../lead). Read by the erasure's search only so that errors and
 * log lines quoting them can be redacted; never stored.
 */
const nameColumns = ['firstname', 'lastname'];

const pageSchema = z.object({
  value: z.array(z.record(z.string(), z.unknown())),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});

/** What decideState settles for a person whose rows must be read: the columns their decisions call for. */
interface Decided {
  decided: Purpose[];
  notApplicable: ConsentStateResult['purposes'];
  desired: ReturnType<typeof desiredColumns>;
}

interface Row {
  ref: VendorRecordRef & { kind: Kind };
  columns: Record<string, unknown>;
}

/**
 * Dataverse allows 52 concurrent requests per application user (a 429 at once beyond that). The limit is
 * process-wide, per org and app, so that all activities of one worker together stay under
 * DYNAMICS_MAX_CONCURRENCY (48 by default); several workers each hold their share of it (CONSENT_HUB_WORKERS,
 * workers/vendor-queues.ts), and a 429 that still happens goes to Temporal with its Retry-After.
 */
const concurrency = new Map<string, LimitFunction>();
function limiterFor(config: DynamicsConfig): LimitFunction {
  const key = `${config.url}|${config.tenantId}|${config.clientId}`;
  let limit = concurrency.get(key);
  if (!limit) {
    limit = pLimit(config.maxConcurrency);
    concurrency.set(key, limit);
  }
  return limit;
}

/** WhoAmI's answer: the application user's id is all readiness needs to see. */
const whoAmISchema = z.object({ UserId: z.string() }).passthrough();

/**
 * The filter for "any of the three email columns holds this mailbox", built from typed parts. A mailbox has
 * several spellings a CRM may hold (its domain as Unicode or as IDNA `xn--`, with or without the DNS root's
 * dot; domain/email.ts mailboxSpellings), and the hub's one person is all of them: a row typed either way is
 * theirs, so an erasure or opt-out by one spelling must find a row kept under another. Dataverse compares
 * strings case-insensitively, so case needs no spelling of its own.
 */
export function emailFilter(email: string): ODataFilter {
  const spellings = [...new Set([email, ...mailboxSpellings(email)])];
  return or(...emailColumns.flatMap((column) => spellings.map((spelling) => eq(column, spelling))));
}

/**
 * The mailboxes a row's email columns hold, each as canonicalMailbox gives it (case, Unicode normalisation,
 * IDNA or Unicode domain and the root's dot folded): a row is a person's when one of them is theirs. This is
 * what tells people apart after a query, since Dataverse's collation also matches addresses that differ
 * only in accents (`jose@` and `josé@`), which are different mailboxes and different people.
 */
export function rowMailboxes(row: { columns: Record<string, unknown> }): Set<string> {
  const mailboxes = new Set<string>();
  for (const column of emailColumns) {
    const value = row.columns[column];
    if (typeof value === 'string' && value.trim() !== '') mailboxes.add(canonicalMailbox(value));
  }
  return mailboxes;
}

/**
 * "Any email column holds one of these spellings", for many people at once: an `In` per email column
 * (odata-filter.ts isIn), joined by `or`. Dataverse compares text without regard to case, so the spellings
 * need no case variants.
 */
export function manyEmailsFilter(spellings: string[]): ODataFilter {
  return or(...emailColumns.map((column) => isIn(column, spellings)));
}

/**
 * The longest URL Dataverse accepts is 32 KB, 32,768 characters (learn.microsoft.com/power-apps/developer/
 * data-platform/webapi/compose-http-requests-handle-errors, "Maximum URL length"). A query for many people
 * stays under this, leaving room for the `$skiptoken` a next-page link adds to the same URL.
 */
export const maxQueryUrlLength = 30_000;

/**
 * Splits people (each with all their spellings, kept together) into groups whose query URL, as `lengthOf`
 * measures it for the group's spellings, fits `maxQueryUrlLength`. A person whose spellings alone pass it
 * still gets a group of their own (an address is at most 254 characters, so this cannot happen in practice).
 */
export function groupsByUrlLength<T>(
  people: [T, string[]][],
  lengthOf: (spellings: string[]) => number,
  maxLength = maxQueryUrlLength,
): [T, string[]][][] {
  const groups: [T, string[]][][] = [];
  let current: [T, string[]][] = [];
  for (const person of people) {
    const trial = [...current, person];
    if (current.length > 0 && lengthOf(trial.flatMap(([, spellings]) => spellings)) > maxLength) {
      groups.push(current);
      current = [person];
    } else {
      current = trial;
    }
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * Dynamics 365 through the Dataverse Web API: finds a person's contacts and leads by any of their three
 * email columns, deletes them, and reads and sets the `donot*`/`followemail` consent columns.
 */
export function createDynamicsConnector(
  config: DynamicsConfig,
  deps: { logger: Logger },
): Connector & { close(): Promise<void> } {
  const { client, credential, apiRoot } = createDataverseClient(config);
  const logger = deps.logger.child({ system: 'dynamics' });
  const pageHeader = { Prefer: `odata.maxpagesize=${config.pageSize}` };
  const limit = limiterFor(config);

  /**
   * Runs one call; on 401 renews the credential and sends it once more. That is re-authentication, not a
   * retry of a failure: MSAL may hold a token Dataverse no longer accepts, and only a new token tells a
   * revoked token apart from an app that has no access. Every other failure is classified and thrown.
   */
  async function call<T>(operation: ConnectorOperation, unlimited: () => Promise<T>): Promise<T> {
    const send = () => limit(unlimited);
    try {
      return await send();
    } catch (error) {
      if (!isUnauthorized(error)) throw error;
      logger.info({ operation }, 'Dataverse refused the token; renewing it once');
      credential.renew();
      try {
        return await send();
      } catch (second) {
        if (isUnauthorized(second)) throw classifyDynamicsError(operation, second, { afterRefresh: true });
        throw second;
      }
    }
  }

  /** Every row of one table the filter matches, page by page, with the columns asked for. */
  async function rowsMatching(
    operation: ConnectorOperation,
    kind: Kind,
    filter: ODataFilter,
    columns: string[],
  ): Promise<Row[]> {
    const found: Row[] = [];
    const { entitySet, idColumn } = tables[kind];
    const select = selectOf(kind, columns);
    // The Graph client pastes $filter into the URL as given; encoding it keeps `&`, `+` and `#` in an
    // address from being read as URL syntax.
    let request: GraphRequest = client
      .api(`/${entitySet}`)
      .select(select)
      .filter(encodeURIComponent(filter))
      .headers(pageHeader);
    for (;;) {
      const page = pageSchema.parse(await call(operation, () => request.get()));
      for (const columns of page.value) {
        const id = z.string().parse(columns[idColumn]);
        const modifiedAt = typeof columns.modifiedon === 'string' ? columns.modifiedon : undefined;
        found.push({ ref: { kind, id, ...(modifiedAt ? { modifiedAt } : {}) }, columns });
      }
      const next = page['@odata.nextLink'];
      if (!next) break;
      if (!next.startsWith(`${apiRoot}/`)) {
        throw new NonRetryableVendorError({
          system: 'dynamics',
          operation,
          reason: 'Dataverse sent a next-page link outside the org; refusing to follow it',
        });
      }
      request = client.api(next).headers(pageHeader);
    }
    return found;
  }

  function selectOf(kind: Kind, columns: string[]): string {
    return [...new Set([tables[kind].idColumn, 'modifiedon', config.gaClientIdColumn, ...columns])].join(',');
  }

  /**
   * A person's contacts and leads: the rows the query finds whose email columns hold their mailbox
   * (rowMailboxes). Dataverse compares text by the environment's collation, which in most languages, English
   * among them, ignores accents too (learn.microsoft.com/power-platform/admin/language-collations, `_CI_AI`),
   * so `jose@example.com` also finds `josé@example.com`: another mailbox, and another person's row.
   */
  async function rows(
    operation: ConnectorOperation,
    subject: SubjectIdentifiers,
    extra: string[] | ((kind: Kind) => string[]),
  ): Promise<Row[]> {
    const found: Row[] = [];
    const mailbox = canonicalMailbox(subject.email);
    for (const kind of ['contact', 'lead'] as const) {
      const columns = typeof extra === 'function' ? extra(kind) : extra;
      const matched = await rowsMatching(operation, kind, emailFilter(subject.email), [
        ...emailColumns,
        ...columns,
      ]);
      found.push(...matched.filter((row) => rowMailboxes(row).has(mailbox)));
    }
    return found;
  }

  /**
   * Many people's contacts and leads with as few requests as the Web API allows: per table, one query per
   * group of people whose addresses (every spelling, domain/email.ts mailboxSpellings) fit one URL, each
   * an `In` over each email column (manyEmailsFilter), the groups sent together under the connector's
   * concurrency limit (this worker's share of Dataverse's 52). Rows are matched back to people by any email
   * column holding their mailbox (rowMailboxes: any case, Unicode form or domain spelling, but not an address
   * that differs in accents, which Dataverse's `_CI_AI` collation also returns); a row holding two people's addresses is both
   * people's, as each one's own query would find it. Per person: the rows, or why their group's read
   * failed for good (classified, free of addresses), so one refused group does not fail the others.
   * Throws a RetryableVendorError (the longest Retry-After of any group) when a read was throttled or
   * Dataverse was unavailable, so the caller's retry honours it.
   */
  async function rowsOfMany(
    operation: ConnectorOperation,
    emails: string[],
    columns: string[],
  ): Promise<Map<string, Row[] | { failed: string }>> {
    const owners = new Map<string, Set<string>>();
    const spellingsOf = new Map<string, string[]>();
    for (const email of new Set(emails)) {
      const spellings = [...new Set([email, ...mailboxSpellings(email)])];
      spellingsOf.set(email, spellings);
      const key = canonicalMailbox(email);
      owners.set(key, new Set([...(owners.get(key) ?? []), email]));
    }
    const selected = [...emailColumns, ...columns];
    const answer = new Map<string, Row[] | { failed: string }>(
      [...spellingsOf.keys()].map((email) => [email, []]),
    );
    const groups = groupsByUrlLength(
      [...spellingsOf.entries()],
      // Measured as the URL fetch sends it: WHATWG URL parsing percent-encodes each `'` of the query (the
      // special-query set), which encodeURIComponent leaves, so short addresses' quotes add a third again.
      (values) =>
        new URL(
          `${apiRoot}/leads?$select=${selectOf('contact', selected)}&$filter=${encodeURIComponent(manyEmailsFilter(values))}`,
        ).href.length,
    );
    const reads = groups.flatMap((group) =>
      (['contact', 'lead'] as const).map(async (kind) => {
        const filter = manyEmailsFilter(group.flatMap(([, spellings]) => spellings));
        try {
          const found = await run(operation, () => rowsMatching(operation, kind, filter, selected));
          return { group, kind, found };
        } catch (error) {
          if (error instanceof RetryableVendorError) return { group, kind, retry: error };
          return { group, kind, failed: error instanceof Error ? error.message : 'the read failed' };
        }
      }),
    );
    const done = await Promise.all(reads);
    // A 429 or a 503 says Dataverse is busy, not that these people are different: the whole plan is asked
    // again after the longest Retry-After it gave (the activity's retry), rather than handing every person of
    // the group to a workflow of their own that would each read again into the same throttle.
    const busy = done
      .flatMap((read) => ('retry' in read && read.retry ? [read.retry] : []))
      .sort((a, b) => (b.retryAfterMs ?? 0) - (a.retryAfterMs ?? 0))[0];
    if (busy) throw busy;
    // Contacts before leads for each person, as `rows` reads them.
    for (const read of done.sort((a, b) => (a.kind < b.kind ? -1 : 1))) {
      if ('retry' in read) continue;
      if ('failed' in read) {
        for (const [email] of read.group) answer.set(email, { failed: read.failed ?? 'the read failed' });
        continue;
      }
      for (const row of read.found) {
        const mine = new Set<string>();
        for (const mailbox of rowMailboxes(row)) {
          for (const email of owners.get(mailbox) ?? []) mine.add(email);
        }
        for (const email of mine) {
          const rowsSoFar = answer.get(email);
          if (
            Array.isArray(rowsSoFar) &&
            !rowsSoFar.some((r) => r.ref.kind === row.ref.kind && r.ref.id === row.ref.id)
          )
            rowsSoFar.push(row);
        }
      }
    }
    return answer;
  }

  async function run<T>(operation: ConnectorOperation, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const classified = classifyDynamicsError(operation, error);
      logger.warn(
        {
          operation,
          status: classified.status,
          vendorCode: classified.vendorCode,
          retryable: classified.retryable,
          reason: classified.reason,
        },
        'Dynamics call failed',
      );
      throw classified;
    }
  }

  /**
   * What applyConsentState decides for one person before reading anything: the columns the decisions call
   * for, or `skip` when no column of the tool carries a purpose that moved.
   */
  function decideState(
    request: ConsentStateRequest,
  ): { skip: Omit<ConsentStateResult, 'records'> } | Decided {
    const columns = dynamicsConsentColumns(config.purposeColumns);
    const touched = columns.filter((c) => c.purposes.some((p) => request.changed.includes(p)));
    const decided = Object.keys(request.decisions) as (keyof typeof request.decisions)[];
    const notApplicable = Object.fromEntries(
      decided.filter((p) => !columns.some((c) => c.purposes.includes(p))).map((p) => [p, 'not_applicable']),
    ) as ConsentStateResult['purposes'];
    const desired = desiredColumns(columns, request.decisions);
    if (touched.length === 0 || desired.length === 0) {
      return { skip: { outcome: 'not_applicable', purposes: notApplicable, fields: {} } };
    }
    return { decided, notApplicable, desired };
  }

  /**
   * The plan for one person from their rows: the columns each row must change, and the result once those
   * changes are made (`gone`: rows deleted meanwhile).
   */
  function planFromRows(
    request: ConsentStateRequest,
    { decided, notApplicable, desired }: Decided,
    found: Row[],
  ) {
    const patches = found.flatMap((row) => {
      const patch: Record<string, boolean> = {};
      for (const { column, value } of desired) {
        // An empty column holds Dataverse's default, which allows (false for donot*, true for followemail).
        const current = row.columns[column.column] ?? column.inverted;
        if (current !== value) patch[column.column] = value;
      }
      return Object.keys(patch).length === 0 ? [] : [{ row, patch }];
    });
    const resultOf = (changedColumns: Set<string>, gone: number): Omit<ConsentStateResult, 'records'> => {
      const present = found.length > gone;
      const purposes: ConsentStateResult['purposes'] = { ...notApplicable };
      for (const purpose of decided) {
        const mine = desired.filter((d) => d.column.purposes.includes(purpose));
        if (mine.length === 0) continue;
        purposes[purpose] = purposeOutcomeFor(
          purpose,
          request.decisions,
          mine.map((d) => d.state),
          mine.some((d) => changedColumns.has(d.column.column)),
          present,
        ) as PurposeOutcome;
      }
      const fields = present
        ? Object.fromEntries(desired.map((d) => [d.column.column, String(d.value)]))
        : {};
      const outcome = !present ? 'not_found' : changedColumns.size > 0 ? 'applied' : 'already';
      return { outcome, purposes, fields };
    };
    return { found, patches, resultOf };
  }

  /** What applyConsentState reads and decides for one person (decideState, then their rows). */
  async function planState(
    subject: SubjectIdentifiers,
    request: ConsentStateRequest,
  ): Promise<{ skip: Omit<ConsentStateResult, 'records'> } | ReturnType<typeof planFromRows>> {
    const decision = decideState(request);
    if ('skip' in decision) return decision;
    const found = await rows(
      'applyConsent',
      subject,
      decision.desired.map((d) => d.column.column),
    );
    return planFromRows(request, decision, found);
  }

  const pathOf = (ref: Row['ref']) => `/${tables[ref.kind].entitySet}(${ref.id})`;

  /**
   * PATCHes `body` onto a row conditional on the row as it was read: its own ETag makes a change in between a
   * 412, so the next attempt decides again on fresh data (only that 412 is retryable). Any If-Match also
   * keeps the PATCH an update: a row deleted meanwhile is 404 ('gone'), never re-created.
   */
  async function patchAsRead(
    row: Row,
    body: Record<string, unknown>,
    operation: ConnectorOperation = 'applyConsent',
  ): Promise<'patched' | 'gone'> {
    const etag = row.columns['@odata.etag'];
    const sentEtag = typeof etag === 'string' && etag !== '*';
    try {
      await call(operation, () =>
        client
          .api(pathOf(row.ref))
          .header('If-Match', sentEtag ? etag : '*')
          .patch(body),
      );
      return 'patched';
    } catch (error) {
      if (isAlreadyGone(error)) return 'gone';
      throw classifyDynamicsError(operation, error, { sentEtag });
    }
  }

  /**
   * Deletes a row, then its audit change history with Dataverse's DeleteRecordChangeHistory action
   * (POST /DeleteRecordChangeHistory {"Target": {"@odata.type": "Microsoft.Dynamics.CRM.contact",
   * "contactid": id}} → {DeletedEntriesCount}; learn.microsoft.com/power-apps/developer/data-platform/
   * auditing/delete-audit-data). The history goes after the row, so that the audit entry of the deletion
   * itself goes too, and also for a row already gone (its history outlives it). A failure of the action
   * fails the call: the record stays planned, and the retry finds the row gone (404) and deletes the history
   * then. So a record answered as deleted or already gone has no audit history left.
   */
  async function deleteWithAuditHistory(ref: Row['ref']): Promise<'deleted' | 'already_gone'> {
    let result: 'deleted' | 'already_gone';
    try {
      await call('erase', () => client.api(pathOf(ref)).delete());
      result = 'deleted';
    } catch (error) {
      if (!isAlreadyGone(error)) throw error;
      result = 'already_gone';
    }
    const { idColumn } = tables[ref.kind];
    const answer = await call('erase', () =>
      client.api('/DeleteRecordChangeHistory').post({
        Target: { '@odata.type': `Microsoft.Dynamics.CRM.${ref.kind}`, [idColumn]: ref.id },
      }),
    );
    const { DeletedEntriesCount } = auditDeletionSchema.parse(answer);
    logger.info(
      { operation: 'erase', auditEntriesDeleted: DeletedEntriesCount },
      'Dataverse audit history deleted',
    );
    return result;
  }

  return {
    system: 'dynamics',

    collectAccess: (subject, progress) =>
      run('access', async () => {
        const holdings = await collectDynamicsAccess(
          {
            client,
            apiRoot,
            pageHeader,
            call: (work) => call('access', work),
            personFilter: emailFilter,
            gaClientIdColumn: config.gaClientIdColumn,
          },
          subject,
          progress,
        );
        logger.info({ operation: 'access', records: holdings.records.length }, 'Dynamics holdings read');
        return holdings;
      }),

    writeConsentBatch: (writes) =>
      run('applyConsent', () =>
        writeDynamicsConsentBatch(
          {
            client,
            call,
            columns: dynamicsConsentColumns(config.purposeColumns),
            batchSize: config.batchSize,
          },
          writes,
        ),
      ),

    // Not just a token: MSAL answers from its cache for up to an hour after the secret was deleted or the
    // app user disabled. WhoAmI (webapi/reference/whoami) is the cheapest call Dataverse authorises, and
    // `call` renews the credential once on 401, so a revoked token with a working secret still passes and a
    // revoked secret fails now.
    checkAccess: () =>
      run('authenticate', async () => {
        whoAmISchema.parse(await call('authenticate', () => client.api('/WhoAmI').get()));
      }),

    find: (subject) =>
      run('find', async (): Promise<FindResult> => {
        const found = await rows('find', subject, nameColumns);
        const gaClientIds = [
          ...new Set(
            found
              .map((row) => row.columns[config.gaClientIdColumn])
              .filter((value): value is string => typeof value === 'string' && value.trim() !== '')
              .map((value) => value.trim()),
          ),
        ];
        // Bounded (domain/redaction-names.ts): a shared address on thousands of rows would otherwise carry
        // thousands of names into every later activity input of the erasure.
        const names = mostFrequentNames(
          found.flatMap((row) =>
            nameColumns
              .map((column) => row.columns[column])
              .filter((value): value is string => typeof value === 'string'),
          ),
        );
        // Dataverse deletes the activities regarding a contact or lead with it (parental relationships,
        // Delete: Cascade): counted now, while they are there, for the receipt to say what went with the rows.
        const dependents =
          found.length === 0
            ? {}
            : await countRegardingActivities(
                { client, apiRoot, pageHeader, call: (work) => call('find', work) },
                found.map((row) => row.ref),
              );
        logger.info({ operation: 'find', records: found.length }, 'Dynamics rows found');
        return {
          records: found.map((row) => row.ref),
          gaClientIds,
          gaUserIds: [],
          names,
          ...(Object.keys(dependents).length > 0 ? { dependents } : {}),
        };
      }),

    erase: (subject) =>
      run('erase', async (): Promise<EraseResult> => {
        const found = await rows('erase', subject, []);
        const records: ErasedRecord[] = [];
        for (const row of found) {
          const result = await deleteWithAuditHistory(row.ref);
          records.push({ ...row.ref, result, auditHistoryRemoved: true });
        }
        const deleted = records.filter((r) => r.result === 'deleted').length;
        logger.info(
          { operation: 'erase', deleted, alreadyGone: records.length - deleted },
          'Dynamics erase done',
        );
        return { outcome: deleted > 0 ? 'erased' : 'not_found', records };
      }),

    deleteRecord: (_subject, record) =>
      run('erase', async () => {
        if (record.kind !== 'contact' && record.kind !== 'lead') {
          throw new NonRetryableVendorError({
            system: 'dynamics',
            operation: 'erase',
            reason: `a ${record.kind} is not a Dynamics record this connector deletes`,
          });
        }
        return deleteWithAuditHistory({ kind: record.kind as Kind, id: record.id });
      }),

    /**
     * Restriction (GDPR Art. 18): every `donot*` column of the row's table set and `followemail` cleared, in
     * one PATCH conditional on the row as read; then the row deactivated by a state-only PATCH of
     * `statecode`/`statuscode` (a contact to Inactive/Inactive, a lead to Disqualified/Cannot Contact:
     * `restrictedState`). Nothing is deleted; a row deleted meanwhile answers `gone`.
     */
    restrict: (subject) =>
      run('restrict', async (): Promise<RestrictResult> => {
        const wanted = (kind: Kind): Record<string, boolean> => ({
          ...Object.fromEntries(restrictedOptOutColumns[kind].map((column) => [column, true])),
          followemail: false,
        });
        const found = await rows('restrict', subject, (kind) => [
          ...restrictedOptOutColumns[kind],
          'followemail',
          'statecode',
          'statuscode',
        ]);
        if (found.length === 0) return { outcome: 'not_found', records: [] };
        const records: RestrictedRecordRef[] = [];
        for (const row of found) {
          const columns = Object.entries(wanted(row.ref.kind))
            .filter(([column, value]) => row.columns[column] !== value)
            .map(([column]) => column);
          const state = restrictedState[row.ref.kind];
          const deactivate =
            row.columns.statecode !== state.statecode || row.columns.statuscode !== state.statuscode;
          if (columns.length === 0 && !deactivate) {
            records.push({ ...row.ref, result: 'already_restricted', actions: [] });
            continue;
          }
          let gone = false;
          if (columns.length > 0) {
            const body = Object.fromEntries(columns.map((column) => [column, wanted(row.ref.kind)[column]]));
            gone = (await patchAsRead(row, body, 'restrict')) === 'gone';
          }
          if (!gone && deactivate) {
            // The row's ETag changed with the first PATCH; `*` still keeps this an update (404 when gone).
            gone = (await patchAsRead({ ...row, columns: {} }, { ...state }, 'restrict')) === 'gone';
          }
          records.push({
            ...row.ref,
            result: gone ? 'gone' : 'restricted',
            actions: gone ? [] : [...columns, ...(deactivate ? ['statecode', 'statuscode'] : [])],
          });
        }
        const restricted = records.filter((r) => r.result !== 'gone');
        logger.info(
          {
            operation: 'restrict',
            rows: found.length,
            changed: records.filter((r) => r.result === 'restricted').length,
          },
          'Dynamics rows restricted',
        );
        return { outcome: restricted.length > 0 ? 'restricted' : 'not_found', records };
      }),

    /**
     * Rectification: on every contact and lead of the person, the first email column holding the old (or
     * already the new) address gets the new one and any later column holding either is emptied (null), so
     * no row ends with one mailbox in two columns; `firstname`/`lastname` get their new values; one PATCH per
     * row, conditional on the row as read (a row deleted meanwhile answers `gone`).
     *
     * Dataverse, unlike Mailchimp, lets two rows share an address, so a new address that another contact or
     * lead already holds would silently make two people one for every later request by that address. That
     * is refused before any PATCH, non-retryably, so the system waits for an operator (as Mailchimp's
     * "Member Exists" does) and nothing is overwritten.
     */
    rectify: (subject, changes, own) =>
      run('rectify', async (): Promise<RectifyResult> => {
        const columns = [...emailColumns, 'firstname', 'lastname'];
        const key = (ref: { kind: string; id: string }) => `${ref.kind}:${ref.id}`;
        let found: Row[];
        if (own) {
          // The harvested rows only, wherever their address is now: under the old one still, or already
          // under the new one (an earlier attempt wrote it before failing). No other row is touched.
          const wanted = new Set(own.map(key));
          const seen = new Set<string>();
          found = [];
          const atNew =
            changes.email && normaliseEmail(changes.email) !== normaliseEmail(subject.email)
              ? await rows('rectify', { ...subject, email: normaliseEmail(changes.email) }, columns)
              : [];
          for (const row of [...(await rows('rectify', subject, columns)), ...atNew]) {
            if (!wanted.has(key(row.ref)) || seen.has(key(row.ref))) continue;
            seen.add(key(row.ref));
            found.push(row);
          }
        } else {
          found = await rows('rectify', subject, columns);
        }
        if (found.length === 0) {
          return {
            outcome: 'not_found',
            records: (own ?? []).map((ref) => ({ ...ref, result: 'gone' as const, before: {} })),
          };
        }
        if (!own && changes.email && normaliseEmail(changes.email) !== normaliseEmail(subject.email)) {
          const own = new Set(found.map((row) => `${row.ref.kind}:${row.ref.id}`));
          const others = (
            await rows('rectify', { ...subject, email: normaliseEmail(changes.email) }, [])
          ).filter((row) => !own.has(`${row.ref.kind}:${row.ref.id}`));
          if (others.length > 0) {
            throw new NonRetryableVendorError({
              system: 'dynamics',
              operation: 'rectify',
              reason: `the new address is already held by ${others.length} other Dynamics record(s) (${others
                .map((row) => `${row.ref.kind} ${row.ref.id}`)
                .join(', ')}); merge them or close this system`,
            });
          }
        }
        const records: RectifiedRecordRef[] = [];
        for (const row of found) {
          const patch: Record<string, string | null> = {};
          const before: Record<string, string | null> = {};
          const set = (column: string, value: string | null) => {
            const current = row.columns[column];
            if (current === value) return;
            patch[column] = value;
            before[column] = typeof current === 'string' ? current : null;
          };
          // A harvested row already at the new address was moved by an earlier attempt of this request.
          // Only a row that holds the old address nowhere can have been moved: one PATCH writes a row whole.
          const movedBefore: Record<string, string> = {};
          if (changes.email) {
            const mailbox = (column: string) => {
              const current = row.columns[column];
              return typeof current === 'string' ? canonicalMailbox(current) : undefined;
            };
            const oldMailbox = canonicalMailbox(subject.email);
            const newMailbox = canonicalMailbox(changes.email);
            const holdsOld = emailColumns.some((column) => mailbox(column) === oldMailbox);
            // The first column holding the old or the new address keeps the new one; any later column holding
            // either is emptied, so the row never ends with one mailbox twice (the person had added the new
            // address as a second email, or the old one is there in two spellings).
            let placed = false;
            for (const column of emailColumns) {
              const current = mailbox(column);
              if (current !== oldMailbox && current !== newMailbox) continue;
              if (placed) set(column, null);
              else if (current === oldMailbox) set(column, changes.email);
              else if (own && !holdsOld) movedBefore[column] = subject.email;
              placed = true;
            }
          }
          if (changes.firstname !== undefined) set('firstname', changes.firstname);
          if (changes.lastname !== undefined) set('lastname', changes.lastname);
          const earlier = Object.keys(movedBefore).length > 0;
          if (Object.keys(patch).length === 0) {
            records.push(
              earlier
                ? { ...row.ref, result: 'rectified', before: movedBefore }
                : { ...row.ref, result: 'already', before: {} },
            );
            continue;
          }
          const gone = (await patchAsRead(row, patch, 'rectify')) === 'gone';
          records.push({
            ...row.ref,
            result: gone ? 'gone' : 'rectified',
            before: gone ? {} : { ...movedBefore, ...before },
          });
        }
        if (own) {
          const reached = new Set(found.map((row) => key(row.ref)));
          for (const ref of own)
            if (!reached.has(key(ref))) records.push({ ...ref, result: 'gone', before: {} });
        }
        logger.info(
          {
            operation: 'rectify',
            rows: found.length,
            changed: records.filter((r) => r.result === 'rectified').length,
          },
          'Dynamics rows rectified',
        );
        const kept = records.filter((r) => r.result !== 'gone');
        const names = [
          ...new Set(
            found.flatMap((row) =>
              [row.columns.firstname, row.columns.lastname].filter(
                (name): name is string => typeof name === 'string' && name !== '',
              ),
            ),
          ),
        ];
        return { outcome: kept.length > 0 ? 'rectified' : 'not_found', records, names };
      }),

    /**
     * A rectification's harvest (issue 18): the contacts and leads under the old address, and how many other
     * rows already hold the new one (Dataverse lets two rows share an address, so writing it would make two
     * people one). Reads only; the workflow keeps the ids and every attempt writes exactly those.
     */
    planRectification: (subject, newEmail, newAddressIsTheirs) =>
      run('rectify', async (): Promise<RectificationPlan> => {
        const own = (await rows('rectify', subject, [])).map((row) => row.ref);
        if (!newEmail || normaliseEmail(newEmail) === normaliseEmail(subject.email))
          return { own, conflicts: 0 };
        const ids = new Set(own.map((ref) => `${ref.kind}:${ref.id}`));
        const atNew = (await rows('rectify', { ...subject, email: normaliseEmail(newEmail) }, [])).filter(
          (row) => !ids.has(`${row.ref.kind}:${row.ref.id}`),
        );
        if (newAddressIsTheirs) return { own: [...own, ...atNew.map((row) => row.ref)], conflicts: 0 };
        return { own, conflicts: atNew.length, others: atNew.map((row) => row.ref) };
      }),

    readConsent: (subject) =>
      run('readConsent', async (): Promise<ConsentReading> => {
        const mapping = Object.entries(config.purposeColumns);
        const found = await rows(
          'readConsent',
          subject,
          mapping.flatMap(([, m]) => (m ? [m.column] : [])),
        );
        const purposes: ConsentReading['purposes'] = {};
        for (const [purpose, column] of mapping) {
          if (!column) continue;
          const states = new Set(found.map((row) => stateOf(row.columns[column.column], column.inverted)));
          const state: ConsentStateInTool =
            states.size === 0 ? 'unknown' : states.size === 1 ? ([...states][0] ?? 'unknown') : 'mixed';
          purposes[purpose as keyof typeof purposes] = state;
        }
        return { purposes, records: found.map((row) => row.ref) };
      }),

    applyConsent: (subject, change) =>
      run('applyConsent', async (): Promise<ApplyConsentResult> => {
        const column = config.purposeColumns[change.purpose];
        if (!column) return { outcome: 'not_applicable', records: [] };
        // Withdrawn means "do not" (true) on donot* columns and "not allowed" (false) on inverted ones.
        const wanted = change.decision === 'withdrawn' ? !column.inverted : column.inverted;
        const found = await rows('applyConsent', subject, [column.column]);
        if (found.length === 0) return { outcome: 'not_found', records: [] };
        let changed = 0;
        let gone = 0;
        for (const row of found) {
          // An empty column holds Dataverse's default, which allows (false for donot*, true for followemail).
          const current = row.columns[column.column] ?? column.inverted;
          if (current === wanted) continue;
          if ((await patchAsRead(row, { [column.column]: wanted })) === 'gone') gone++;
          else changed++;
        }
        const records = found.map((row) => row.ref);
        if (changed > 0) return { outcome: 'applied', records };
        return { outcome: gone === found.length ? 'not_found' : 'already', records };
      }),

    /**
     * Writes what all decisions in force call for, one PATCH per row that differs (every column of the row
     * at once), conditional on the row's ETag as applyConsent's writes are: a row deleted meanwhile is never
     * re-created, and a row changed in between is a retryable 412 decided again on fresh data.
     */
    applyConsentState: (subject, request) =>
      run('applyConsent', async (): Promise<ConsentStateResult> => {
        const planned = await planState(subject, request);
        if ('skip' in planned) return { ...planned.skip, records: [] };
        const changedColumns = new Set<string>();
        let gone = 0;
        for (const { row, patch } of planned.patches) {
          if ((await patchAsRead(row, patch)) === 'gone') gone++;
          else for (const column of Object.keys(patch)) changedColumns.add(column);
        }
        const result = planned.resultOf(changedColumns, gone);
        logger.info(
          {
            operation: 'applyConsent',
            outcome: result.outcome,
            rows: planned.found.length,
            changedColumns: changedColumns.size,
          },
          'Dynamics consent state',
        );
        return { ...result, records: planned.found.map((row) => row.ref) };
      }),

    // The same plan as applyConsentState, with the people's rows read together (rowsOfMany: a few queries
    // per table for the whole chunk instead of two per person); the PATCHes go out together in `$batch`
    // (writeConsentBatch), so the result assumes each one applies.
    planConsentBatch: async (people) => {
      const decided = people.map((person) => ({ person, decision: decideState(person.request) }));
      const reading = decided.flatMap(({ person, decision }) =>
        'skip' in decision ? [] : [{ person, decision }],
      );
      const columns = [
        ...new Set(reading.flatMap(({ decision }) => decision.desired.map((d) => d.column.column))),
      ];
      const found =
        reading.length === 0
          ? new Map<string, Row[] | { failed: string }>()
          : await rowsOfMany(
              'applyConsent',
              reading.map(({ person }) => person.subject.email),
              columns,
            );
      logger.info(
        { operation: 'applyConsent', people: people.length, read: reading.length },
        'Dynamics rows read for a bulk write',
      );
      return decided.map(({ person: { key, subject, request }, decision }): BulkStatePlan => {
        if ('skip' in decision) return { key, writes: [], result: decision.skip };
        const mine = found.get(subject.email) ?? [];
        if (!Array.isArray(mine)) return { key, perPerson: mine.failed };
        const planned = planFromRows(request, decision, mine);
        const writes: BulkConsentWrite[] = planned.patches.map(({ row, patch }) => ({
          key,
          email: subject.email,
          record: { kind: row.ref.kind, id: row.ref.id },
          fields: Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, String(v)])),
        }));
        const changed = new Set(planned.patches.flatMap(({ patch }) => Object.keys(patch)));
        return { key, writes, result: planned.resultOf(changed, 0) };
      });
    },

    verifyConsentState: (subject, decisions) =>
      run('readConsent', async (): Promise<ConsentVerification> => {
        const columns = dynamicsConsentColumns(config.purposeColumns);
        const found = await rows(
          'readConsent',
          subject,
          columns.map((c) => c.column),
        );
        const desired = new Map(desiredColumns(columns, decisions).map((d) => [d.column.column, d.value]));
        return {
          fields: columns.map((column) => {
            const values = new Set(found.map((row) => String(row.columns[column.column] ?? column.inverted)));
            const actual = values.size === 0 ? 'absent' : values.size === 1 ? [...values][0] : 'mixed';
            const wanted = desired.get(column.column);
            return {
              field: column.column,
              purposes: column.purposes,
              ...(wanted === undefined ? {} : { desired: String(wanted) }),
              actual: actual ?? 'absent',
              differs: wanted !== undefined && actual !== 'absent' && actual !== String(wanted),
            };
          }),
        };
      }),

    /**
     * The contacts and leads changed since the watermark, page by page, with what each consent column
     * says. A table with change tracking is read through its delta link; one without it by
     * `modifiedon ge <latest modifiedon seen>` (ge, so rows changed in that same instant are not lost; a
     * row read twice is harmless to reconciliation).
     * No watermark (or one from before change tracking) means a full tracked read, which mints the links.
     * Deleted rows come back as deleted entities with no email, so reconciliation has nothing to compare
     * for them and they are skipped. The final page returns every table's mark as one opaque watermark.
     */
    listChanges: (request: ChangeListRequest) =>
      run('list', async (): Promise<ChangePage> => {
        const cursor = changeCursorSchema.parse(request.cursor ? JSON.parse(request.cursor) : { kind: 0 });
        const kind = (['contact', 'lead'] as const)[cursor.kind];
        if (!kind) return { people: [] };
        const { entitySet } = tables[kind];
        const consentColumns = dynamicsConsentColumns(config.purposeColumns);
        const { idColumn } = tables[kind];
        const columns = [idColumn, ...emailColumns, 'modifiedon', ...consentColumns.map((c) => c.column)];
        const maxPage = `odata.maxpagesize=${request.pageSize}`;
        const tracked = { Prefer: `odata.track-changes,${maxPage}` };
        const fullRead = () => client.api(`/${entitySet}`).select(columns.join(',')).headers(tracked);
        const insideOrg = (link: string, what: string) => {
          if (!link.startsWith(`${apiRoot}/`)) {
            throw new NonRetryableVendorError({
              system: 'dynamics',
              operation: 'list',
              reason: `${what} points outside the org; refusing to follow it`,
            });
          }
          return link;
        };

        let raw: unknown;
        if (cursor.next) {
          const next = insideOrg(cursor.next, 'a reconciliation cursor');
          raw = await call('list', () => client.api(next).headers({ Prefer: maxPage }).get());
        } else {
          const mark = parseWatermark(request.since)?.[entitySet];
          if (mark && 'delta' in mark) {
            const delta = insideOrg(mark.delta, 'a stored delta link');
            try {
              raw = await call('list', () => client.api(delta).headers({ Prefer: maxPage }).get());
            } catch (error) {
              if (!isExpiredDeltaToken(error)) throw error;
              // Dataverse keeps change history for a limited time; past it only a full read is exact.
              logger.warn(
                { operation: 'list', table: entitySet },
                'Delta token expired; reading the table in full',
              );
              raw = await call('list', () => fullRead().get());
            }
          } else if (mark && 'modifiedSince' in mark) {
            // No track-changes preference here: Dataverse refuses $filter with change tracking.
            const since = ge('modifiedon', new Date(mark.modifiedSince));
            raw = await call('list', () =>
              client
                .api(`/${entitySet}`)
                .select(columns.join(','))
                .filter(encodeURIComponent(since))
                .headers({ Prefer: maxPage })
                .get(),
            );
          } else {
            raw = await call('list', () => fullRead().get());
          }
        }
        const page = pageSchema.parse(raw);
        const people: ObservedPerson[] = [];
        let latest = cursor.latest;
        for (const row of page.value) {
          if (row.reason === 'deleted') continue;
          const changedAt = typeof row.modifiedon === 'string' ? row.modifiedon : undefined;
          if (changedAt && !Number.isNaN(Date.parse(changedAt))) {
            if (!latest || Date.parse(changedAt) > Date.parse(latest)) latest = changedAt;
          }
          // A column the read did not select (a delta link minted before it was mapped) is absent, not empty.
          const fields = consentColumns.flatMap((column) =>
            Object.hasOwn(row, column.column)
              ? [
                  {
                    field: column.column,
                    purposes: column.purposes,
                    // An empty column holds Dataverse's default, which allows (as applyConsentState reads it).
                    value: String(row[column.column] ?? column.inverted),
                    state: stateOf(row[column.column], column.inverted),
                  },
                ]
              : [],
          );
          for (const column of emailColumns) {
            const email = row[column];
            if (typeof email === 'string' && email.includes('@')) {
              const recordId = typeof row[idColumn] === 'string' ? row[idColumn] : undefined;
              people.push({
                email: normaliseEmail(email),
                ...(recordId ? { recordId } : {}),
                changedAt,
                fields,
              });
            }
          }
        }
        const next = page['@odata.nextLink'];
        if (next) {
          const nextCursor = JSON.stringify({ ...cursor, next, ...(latest ? { latest } : {}) });
          return { people, nextCursor };
        }
        // The table is done: keep its delta link, or for a table without change tracking the latest
        // modifiedon read (the previous one when nothing changed), or nothing to go on: a full read.
        const deltaLink = page['@odata.deltaLink'];
        const previous = cursor.next ? undefined : parseWatermark(request.since)?.[entitySet];
        const since =
          latest ?? (previous && 'modifiedSince' in previous ? previous.modifiedSince : undefined);
        const mark: TableMark = deltaLink
          ? { delta: deltaLink }
          : since
            ? { modifiedSince: since }
            : { full: true };
        const marks = { ...cursor.marks, [entitySet]: mark };
        if (cursor.kind === 0) return { people, nextCursor: JSON.stringify({ kind: 1, marks }) };
        return { people, latestChange: `${watermarkPrefix}${JSON.stringify(marks)}` };
      }),

    close: async () => {},
  };
}

/**
 * Where a table's next read starts: its delta link; for a table without change tracking the latest
 * `modifiedon` read so far; or a full read when neither is known.
 */
const tableMarkSchema = z.union([
  z.object({ delta: z.string() }),
  z.object({ modifiedSince: z.iso.datetime({ offset: true }) }),
  z.object({ full: z.literal(true) }),
]);
type TableMark = z.infer<typeof tableMarkSchema>;

/**
 * The Dynamics watermark is `delta:` and the JSON of each table's mark. The workflow keeps the greatest
 * `latestChange` it sees and compares them as strings; only the final page carries one, and `d` sorts
 * after the digits an older ISO-time watermark starts with, so this one always wins.
 */
const watermarkPrefix = 'delta:';
const watermarkSchema = z.record(z.string(), tableMarkSchema);

/** The per-table marks in a stored watermark, or undefined for none or an older time-only one. */
function parseWatermark(since: string | undefined): Record<string, TableMark> | undefined {
  if (!since?.startsWith(watermarkPrefix)) return undefined;
  try {
    return watermarkSchema.parse(JSON.parse(since.slice(watermarkPrefix.length)));
  } catch {
    // An unreadable watermark only costs a full read, which is always correct.
    return undefined;
  }
}

const changeCursorSchema = z.object({
  kind: z.number().int().min(0).max(1),
  next: z.string().optional(),
  /** The latest `modifiedon` read so far in this table. */
  latest: z.string().optional(),
  marks: watermarkSchema.default({}),
});

/** A consent column's value as a decision; an empty column has Dataverse's default, which allows. */
function stateOf(value: unknown, inverted: boolean): ConsentStateInTool {
  if (value === null || value === undefined) return 'granted';
  if (typeof value !== 'boolean') return 'unknown';
  const withdrawn = inverted ? value === false : value === true;
  return withdrawn ? 'withdrawn' : 'granted';
}
