import { z } from 'zod';
import { mailboxSpellings, normaliseEmail } from '../../domain/email.js';
import { restrictedTag } from '../../domain/hold.js';
import type { Logger } from '../../logging/logger.js';
import type {
  ApplyConsentResult,
  BulkConsentWrite,
  BulkStatePlan,
  ChangeListRequest,
  ChangePage,
  Connector,
  ConsentChange,
  ConsentReading,
  ConsentStateInTool,
  ConsentStateRequest,
  ConsentStateResult,
  ConsentVerification,
  DecisionsInForce,
  ErasedRecord,
  ObservedPerson,
  RectificationPlan,
  RectifiedRecordRef,
  RectifyChanges,
  RectifyResult,
  RestrictedRecordRef,
  RestrictResult,
  SubjectIdentifiers,
  VendorRecordRef,
} from '../connector.js';
import {
  type ConnectorOperation,
  NonRetryableVendorError,
  RetryableVendorError,
} from '../connector-errors.js';
import { collectMailchimpAccess } from './access.js';
import {
  listAudienceMembers,
  listingFields,
  listingIsCheaper,
  membersPageLimit,
} from './audience-listing.js';
import { writeMailchimpConsentBatch } from './batch.js';
import type { MailchimpConfig } from './config.js';
import {
  mailchimpConsentFields,
  type PlannedChange,
  planConsentChange,
  planConsentState,
  purposeAudiences,
  purposesUnsubscribedIn,
  readPurpose,
  verifyMembers,
} from './consent.js';
import { isMailchimpNotFound, mailchimpAudienceMissing, toMailchimpError } from './errors.js';
import { mailboxKey, sameMailbox } from './mailbox-match.js';
import { configureMailchimpSdk } from './mailchimp-sdk.js';
import { type MailchimpMember, memberRef, memberSchema } from './member.js';
import { subscriberHash } from './subscriber-hash.js';
import { unsubscribeOnlyAudiences } from './unsubscribe-only.js';

const listsPageSize = 1000;

const cursorSchema = z.object({
  audience: z.number().int().min(0),
  offset: z.number().int().min(0),
  /** Members in the audiences reached so far, as Mailchimp counts them (`total_items`). */
  total: z.number().int().min(0).optional(),
});
const membersPageSchema = z.object({
  members: z.array(
    z
      .object({
        email_address: z.string(),
        status: z.string(),
        last_changed: z.string().optional(),
        marketing_permissions: z
          .array(z.object({ marketing_permission_id: z.string(), enabled: z.boolean().optional() }).loose())
          .optional(),
      })
      .loose(),
  ),
  total_items: z.number(),
});

/** The values a rectification replaces; read only inside the rectify call, never returned as they are. */
const memberValuesSchema = z
  .object({ email_address: z.string(), merge_fields: z.record(z.string(), z.unknown()).default({}) })
  .loose();

/** delete-permanent answers 204 with no body, which the SDK hands back as null. */
const deletionSchema = z.unknown();

/**
 * An audience with the member counts Mailchimp keeps in `stats` (GET /lists/{list_id}: `member_count` counts
 * subscribed members only, with `unsubscribe_count` and `cleaned_count` beside it).
 */
const audienceStatsSchema = z
  .object({
    member_count: z.number().int().min(0).default(0),
    unsubscribe_count: z.number().int().min(0).default(0),
    cleaned_count: z.number().int().min(0).default(0),
  })
  .loose();
const audienceSchema = z.object({ id: z.string(), stats: audienceStatsSchema.optional() }).loose();
const audienceFields = ['id', 'stats.member_count', 'stats.unsubscribe_count', 'stats.cleaned_count'];
const audiencesPageSchema = z.object({ lists: z.array(audienceSchema), total_items: z.number() });

/** Members an audience's listing returns, as far as its statistics tell (pending and transactional aside). */
const statsMembers = (stats: z.output<typeof audienceStatsSchema>) =>
  stats.member_count + stats.unsubscribe_count + stats.cleaned_count;

/** `GET /search-members`: members found exactly and by full-text search, each with its address and list. */
const searchSchema = z.object({
  exact_matches: z
    .object({ members: z.array(z.object({ email_address: z.string(), list_id: z.string() }).loose()) })
    .loose()
    .optional(),
  full_search: z
    .object({ members: z.array(z.object({ email_address: z.string(), list_id: z.string() }).loose()) })
    .loose()
    .optional(),
});

/**
 * The forms of an address worth searching for: as given (trimmed), composed and decomposed. Mailchimp keeps
 * the address as it was stored and documents no Unicode folding in its search, so one form may miss.
 */
function searchQueries(email: string): string[] {
  const trimmed = email.trim();
  return [...new Set([trimmed, trimmed.normalize('NFC'), trimmed.normalize('NFD')])];
}

/**
 * Mailchimp through its official SDK: members are found by subscriber hash in every configured audience,
 * erased with delete-permanent (archive is not erasure), and consent is carried as membership status and
 * GDPR marketing permissions. Every call goes through the process-wide limiter in mailchimp-sdk.ts.
 */
/** The prefix of an erasure record's id that is a Mailchimp contact id (random, kept as it is). */
const contactRecordPrefix = 'contact_id:';

/**
 * A restricted member's `handle`, the id its erasure deletes it by: `contact_id:<id>`. Mailchimp's contact id
 * is random, not derived from the address, so it is kept as it is (not keyed, privacy/keyed-id.ts).
 */
function mailchimpContactRecordId(contactId: string): string {
  return `${contactRecordPrefix}${contactId}`;
}

/** The contact id of an erasure record's id made by mailchimpContactRecordId; undefined for any other id. */
function mailchimpContactIdOf(recordId: string): string | undefined {
  return recordId.startsWith(contactRecordPrefix) ? recordId.slice(contactRecordPrefix.length) : undefined;
}

export function createMailchimpConnector(config: MailchimpConfig, deps: { logger: Logger }): Connector {
  const api = configureMailchimpSdk(config);
  const log = deps.logger.child({ system: 'mailchimp' });

  /** Checks an answer against what the connector reads from it. */
  function checked<S extends z.ZodType>(
    operation: ConnectorOperation,
    body: unknown,
    schema: S,
  ): z.output<S> {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new NonRetryableVendorError({
      system: 'mailchimp',
      operation,
      reason: `Mailchimp answered in an unexpected shape (${parsed.error.issues
        .map((i) => i.path.join('.') || '(root)')
        .join(', ')})`,
    });
  }

  /**
   * One SDK call: failures become VendorErrors (naming the audience when the call is about one), and the
   * answer is checked against its schema.
   */
  async function call<S extends z.ZodType>(
    operation: ConnectorOperation,
    run: () => Promise<unknown>,
    schema: S,
    audienceId?: string,
  ): Promise<z.output<S>> {
    let body: unknown;
    try {
      body = await run();
    } catch (error) {
      throw toMailchimpError(error, operation, { audienceId });
    }
    return checked(operation, body, schema);
  }

  /**
   * Like `call`, but a 404 answers `undefined`. Only for calls on a member of an audience known to exist:
   * a 404 for the audience itself must not pass for a missing member (see `requireAudience`).
   */
  async function callUnlessMissing<S extends z.ZodType>(
    operation: ConnectorOperation,
    audienceId: string,
    run: () => Promise<unknown>,
    schema: S,
  ): Promise<z.output<S> | undefined> {
    let body: unknown;
    try {
      body = await run();
    } catch (error) {
      if (isMailchimpNotFound(error)) return undefined;
      throw toMailchimpError(error, operation, { audienceId });
    }
    return checked(operation, body, schema);
  }

  /** Audiences this key is known to have (listed by `GET /lists` or read by `GET /lists/{id}`), until when. */
  const knownAudiences = new Map<string, number>();
  /** Members per audience by its `stats`, read with the audience and kept as long (MAILCHIMP_AUDIENCE_CACHE_SECONDS). */
  const audienceMembers = new Map<string, number>();
  const knowAudience = (audienceId: string, stats?: z.output<typeof audienceStatsSchema>) => {
    knownAudiences.set(audienceId, Date.now() + config.audienceCacheMs);
    if (stats) audienceMembers.set(audienceId, statsMembers(stats));
  };

  /**
   * Throws a named, non-retryable configuration error when the audience does not exist for this key. Mailchimp
   * answers a missing audience and a missing member with the same 404 body ("Resource Not Found", "The
   * requested resource could not be found."), so only reading the audience itself tells them apart; an
   * audience seen within MAILCHIMP_AUDIENCE_CACHE_SECONDS is not read again.
   */
  async function requireAudience(operation: ConnectorOperation, audienceId: string): Promise<void> {
    if ((knownAudiences.get(audienceId) ?? 0) > Date.now()) return;
    try {
      const audience = checked(
        operation,
        await api.getList(audienceId, { fields: audienceFields }),
        audienceSchema,
      );
      knowAudience(audienceId, audience.stats);
    } catch (error) {
      if (isMailchimpNotFound(error)) throw mailchimpAudienceMissing(audienceId, operation);
      throw toMailchimpError(error, operation, { audienceId });
    }
  }

  /**
   * The member a search finds for this address in this audience. Mailchimp hashes the address as it was
   * stored (only lower-cased), so a member stored with spaces or in another Unicode form has another hash
   * than the one the connector computes; the search's answer is compared in the hub's normal form.
   */
  async function searchMember(
    operation: ConnectorOperation,
    audienceId: string,
    email: string,
  ): Promise<MailchimpMember | undefined> {
    for (const query of searchQueries(email)) {
      const found = await call(
        operation,
        () => api.searchMembers(query, audienceId),
        searchSchema,
        audienceId,
      );
      const match = [...(found.exact_matches?.members ?? []), ...(found.full_search?.members ?? [])].find(
        (m) => m.list_id === audienceId && sameMailbox(m.email_address, email),
      );
      if (match) return checked(operation, match, memberSchema);
    }
    return undefined;
  }

  /**
   * The person's member record in one audience, archived included: by subscriber hash, and on a miss by
   * search, after checking that the audience exists (a 404 alone cannot tell member from audience).
   */
  async function memberIn(
    operation: ConnectorOperation,
    audienceId: string,
    email: string,
  ): Promise<MailchimpMember | undefined> {
    const byHash = await callUnlessMissing(
      operation,
      audienceId,
      () => api.getListMember(audienceId, subscriberHash(email)),
      memberSchema,
    );
    if (byHash) return { ...byHash, list_id: audienceId };
    return memberStoredOtherwise(operation, audienceId, email);
  }

  /**
   * The person's member in one audience after the hash of the hub's spelling missed: the one place every
   * lookup and write falls back through (issue 15: never refuse an opt-out for an address a vendor holds).
   * Checks first that the audience exists (a 404 alone cannot tell member from audience). The same mailbox
   * stored under another spelling (its domain as Unicode or `xn--`, with or without the root's dot) is this
   * person too; each spelling is its own hash, read in turn; then a search finds spaces or another Unicode
   * form.
   */
  async function memberStoredOtherwise(
    operation: ConnectorOperation,
    audienceId: string,
    email: string,
  ): Promise<MailchimpMember | undefined> {
    await requireAudience(operation, audienceId);
    for (const spelling of mailboxSpellings(email).filter((s) => s !== normaliseEmail(email))) {
      const other = await callUnlessMissing(
        operation,
        audienceId,
        () => api.getListMember(audienceId, subscriberHash(spelling)),
        memberSchema,
      );
      if (other) return { ...other, list_id: audienceId };
    }
    const searched = await searchMember(operation, audienceId, email);
    return searched && { ...searched, list_id: audienceId };
  }

  /** The audience list `GET /lists` answered, while it is fresh (shared by concurrent callers). */
  let listed:
    | { until: number; ids: Promise<{ id: string; stats?: z.output<typeof audienceStatsSchema> }[]> }
    | undefined;

  /**
   * MAILCHIMP_AUDIENCE_IDS, or every audience the key can see, read page by page once per
   * MAILCHIMP_AUDIENCE_CACHE_SECONDS (a failed read is not kept; issue 21: once per wave, not per person).
   */
  function configuredAudiences(operation: ConnectorOperation): Promise<string[]> {
    if (config.audienceIds.length > 0) return Promise.resolve(config.audienceIds);
    if (listed && listed.until > Date.now()) return listed.ids.then((read) => read.map((a) => a.id));
    const ids = readAudiences(operation);
    const entry = { until: Date.now() + config.audienceCacheMs, ids };
    listed = entry;
    ids.then(
      (read) => {
        for (const audience of read) knowAudience(audience.id, audience.stats);
      },
      () => {
        if (listed === entry) listed = undefined;
      },
    );
    return ids.then((read) => read.map((a) => a.id));
  }

  async function readAudiences(
    operation: ConnectorOperation,
  ): Promise<{ id: string; stats?: z.output<typeof audienceStatsSchema> }[]> {
    const ids: { id: string; stats?: z.output<typeof audienceStatsSchema> }[] = [];
    for (let offset = 0; ; offset += listsPageSize) {
      const page = await call(
        operation,
        () =>
          api.getAllLists({
            count: listsPageSize,
            offset,
            fields: [...audienceFields.map((f) => `lists.${f}`), 'total_items'],
          }),
        audiencesPageSchema,
      );
      ids.push(...page.lists);
      if (page.lists.length === 0 || offset + listsPageSize >= page.total_items) return ids;
    }
  }

  /** The person's member record in each of the given audiences, where there is one (archived included). */
  async function membersIn(
    operation: ConnectorOperation,
    email: string,
    audienceIds: string[],
  ): Promise<MailchimpMember[]> {
    const found = await Promise.all(audienceIds.map((listId) => memberIn(operation, listId, email)));
    return found.filter((m): m is MailchimpMember => m !== undefined);
  }

  /**
   * The person's members in the audiences under their address and under each address Mailchimp moved them
   * to while their erasure ran (`otherEmails`, from an upemail), each member once.
   */
  async function subjectMembers(
    operation: ConnectorOperation,
    subject: SubjectIdentifiers,
    audienceIds: string[],
  ): Promise<MailchimpMember[]> {
    const addresses = [subject.email, ...(subject.otherEmails ?? [])];
    const found = (
      await Promise.all(addresses.map((email) => membersIn(operation, email, audienceIds)))
    ).flat();
    const seen = new Set<string>();
    return found.filter((member) => {
      const key = `${member.list_id}/${member.id}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /** Carries out planned member writes; answers the member records as they stand after them. */
  async function writePlans(
    plans: PlannedChange[],
    rawEmail: string,
    members: MailchimpMember[],
  ): Promise<VendorRecordRef[]> {
    for (const plan of plans.filter((p) => p.unknownPermissionIds.length > 0)) {
      log.warn(
        { operation: 'applyConsent', listId: plan.listId, permissionIds: plan.unknownPermissionIds },
        'purpose map names marketing permissions this audience does not have',
      );
    }
    const changed: VendorRecordRef[] = [];
    for (const plan of plans) {
      if (!plan.body.status && !plan.body.status_if_new && !plan.body.marketing_permissions) continue;
      // A PUT upserts, so it carries the address, in the hub's normal form so that its hash is ours;
      // status_if_new means it never changes an existing member. A PATCH goes to the member found, whose
      // id is the hash of the address as Mailchimp stored it.
      const email = normaliseEmail(rawEmail);
      const existing = members.find((m) => m.list_id === plan.listId && m.status !== 'archived');
      const body = plan.action === 'create' ? { email_address: email, ...plan.body } : plan.body;
      if (plan.action === 'create') {
        const created = await call(
          'applyConsent',
          () => api.setListMember(plan.listId, subscriberHash(email), body),
          memberSchema,
          plan.listId,
        );
        changed.push(memberRef({ ...created, list_id: plan.listId }));
        continue;
      }
      // The member was just read from this audience, so a 404 here means it went meanwhile (an erasure).
      const updated = await callUnlessMissing(
        'applyConsent',
        plan.listId,
        () => api.updateListMember(plan.listId, existing?.id ?? subscriberHash(email), body),
        memberSchema,
      );
      if (!updated) continue;
      changed.push(memberRef({ ...updated, list_id: plan.listId }));
    }
    return changed;
  }

  /**
   * Unsubscribes the person from one audience with a single PATCH to the hash of their address (Mailchimp:
   * PATCH /lists/{list_id}/members/{subscriber_hash} answers the member as it is after the update). A 404
   * is "no member under that hash" only once the audience is known to exist (Mailchimp answers a missing
   * audience with the same 404); the member may then still be stored under another spelling of the mailbox
   * or another form of the address (memberStoredOtherwise), which the caller plans from as usual
   * (`written: false`) and PATCHes by the member's own id.
   */
  async function unsubscribeWithoutReading(
    listId: string,
    email: string,
  ): Promise<{ member: MailchimpMember; written: boolean } | undefined> {
    let updated: MailchimpMember | undefined;
    try {
      updated = await callUnlessMissing(
        'applyConsent',
        listId,
        () => api.updateListMember(listId, subscriberHash(email), { status: 'unsubscribed' }),
        memberSchema,
      );
    } catch (error) {
      // A member whose state refuses the update (a 400): read it and plan from what it holds, as before.
      if (!(error instanceof NonRetryableVendorError && error.status === 400)) throw error;
      const member = await memberIn('applyConsent', listId, email);
      return member && { member, written: false };
    }
    if (updated) return { member: { ...updated, list_id: listId }, written: true };
    const member = await memberStoredOtherwise('applyConsent', listId, email);
    return member && { member, written: false };
  }

  /** The audiences the purpose map's fields live in, and the person's members there. */
  async function membersForFields(operation: ConnectorOperation, email: string) {
    const audiences = await configuredAudiences(operation);
    const fields = mailchimpConsentFields(config.purposeMap, audiences);
    const wanted = [...new Set([...fields.membership, ...fields.permissions].map((f) => f.listId))];
    return { audiences, members: await membersIn(operation, email, wanted) };
  }

  /** Members the audience's listing returns by its `stats` (read with the audience, cached as long). */
  async function audienceSize(
    operation: ConnectorOperation,
    audienceId: string,
  ): Promise<number | undefined> {
    if ((knownAudiences.get(audienceId) ?? 0) <= Date.now() || !audienceMembers.has(audienceId)) {
      knownAudiences.delete(audienceId);
      await requireAudience(operation, audienceId);
    }
    return audienceMembers.get(audienceId);
  }

  /**
   * How a bulk plan finds each person's member in an audience. Per audience, the listing
   * (`GET /lists/{id}/members?count=1000&offset&fields`, ceil(members / 1000) calls by the audience's
   * `stats`) is read once when it costs fewer calls than one `GET .../members/{hash}` for each person the
   * batch plans there; a person it holds (matched by sameMailbox, the connector's one rule) needs no call of
   * their own. A person it does not hold (absent, archived, added since) is read as the per-person path
   * reads them (memberIn: by hash, other spellings, search), so the outcome is the same either way. A listing
   * that turns out larger than its statistics said, or is refused for good (a 400, an answer it cannot read),
   * falls back to reading member by member. A transient failure of the listing or of the audiences' read
   * (429, 5xx, timeout, network) throws its RetryableVendorError instead: the activity's retry, after any
   * Retry-After, lists again (issue 21: under load, such failures turned a listing into a GET per person,
   * 1.02 calls per change instead of 0.01, each GET as exposed to the same throttling or slowness).
   */
  async function memberLookup(
    people: { subject: { email: string }; request: ConsentStateRequest }[],
  ): Promise<(audienceId: string, address: string) => Promise<MailchimpMember | undefined>> {
    const listings = new Map<string, Map<string, MailchimpMember[]> | undefined>();
    try {
      const audiences = await configuredAudiences('applyConsent');
      const fields = mailchimpConsentFields(config.purposeMap, audiences);
      const mapped = Object.keys(config.purposeMap);
      const wanted = new Map<string, Set<string>>();
      for (const { subject, request } of people) {
        if (!request.changed.some((p) => mapped.includes(p))) continue;
        for (const listId of unsubscribeOnlyAudiences(fields, request.decisions) ?? []) {
          wanted.set(listId, (wanted.get(listId) ?? new Set()).add(normaliseEmail(subject.email)));
        }
      }
      await Promise.all(
        [...wanted].map(async ([listId, addresses]) => {
          const size = await audienceSize('applyConsent', listId);
          if (size === undefined || !listingIsCheaper(size, addresses.size)) return;
          try {
            listings.set(
              listId,
              await listAudienceMembers(
                {
                  checked,
                  page: (audienceId, offset) =>
                    call(
                      'applyConsent',
                      () =>
                        api.getListMembersInfo(audienceId, {
                          count: membersPageLimit,
                          offset,
                          fields: listingFields,
                        }),
                      z.unknown(),
                      audienceId,
                    ),
                },
                listId,
                addresses.size,
              ),
            );
          } catch (error) {
            if (error instanceof RetryableVendorError) throw error;
            log.warn(
              { operation: 'applyConsent', listId, err: error instanceof Error ? error.message : error },
              'audience listing failed; reading members one by one',
            );
          }
        }),
      );
    } catch (error) {
      if (error instanceof RetryableVendorError) throw error;
      // Refused for good (an audience gone, say): each person's plan reads the audiences again and reports
      // the failure as their own.
    }
    return async (audienceId, address) => {
      const listing = listings.get(audienceId);
      const held = listing?.get(mailboxKey(address));
      if (!held) return memberIn('applyConsent', audienceId, address);
      return held.find((m) => m.id === subscriberHash(address)) ?? held[0];
    };
  }

  return {
    system: 'mailchimp',

    async collectAccess(subject, progress) {
      const holdings = await collectMailchimpAccess(
        {
          api,
          call: (run, schema, audienceId) => call('access', run, schema, audienceId),
          memberIn: (audienceId, email) => memberIn('access', audienceId, email),
          audiences: () => configuredAudiences('access'),
        },
        subject,
        progress,
      );
      log.info({ operation: 'access', records: holdings.records.length }, 'Mailchimp holdings read');
      return holdings;
    },

    writeConsentBatch(writes) {
      return writeMailchimpConsentBatch({ api, requireAudience, call }, writes);
    },

    /**
     * Plans opt-outs for the batch write. Mailchimp's batch endpoint creates an address it does not hold (as
     * unsubscribed) and has no update-only option, so each member is read first, in whichever way costs
     * fewer calls per audience (memberLookup): the audience's listing (`GET /lists/{id}/members`, 1000 a
     * page) or one `GET /lists/{id}/members/{hash}` per person. Only a member held under the subscriber hash
     * of the hub's spelling is written in bulk; a member stored under another spelling of the mailbox or
     * anything beyond unsubscribing goes to the per-person path. A member deleted between this read and the
     * batch comes back `created`.
     */
    async planConsentBatch(people) {
      const mapped = Object.keys(config.purposeMap);
      const lookup = await memberLookup(people);
      return Promise.all(
        people.map(async ({ key, subject, request }): Promise<BulkStatePlan> => {
          const notApplicable = Object.fromEntries(
            Object.keys(request.decisions)
              .filter((p) => !mapped.includes(p))
              .map((p) => [p, 'not_applicable']),
          ) as ConsentStateResult['purposes'];
          if (!request.changed.some((p) => mapped.includes(p))) {
            return {
              key,
              writes: [],
              result: { outcome: 'not_applicable', purposes: notApplicable, fields: {} },
            };
          }
          try {
            const audiences = await configuredAudiences('applyConsent');
            const fields = mailchimpConsentFields(config.purposeMap, audiences);
            const unsubscribeOnly = unsubscribeOnlyAudiences(fields, request.decisions);
            if (!unsubscribeOnly) {
              return { key, perPerson: 'the decisions in force need more than unsubscribing in Mailchimp' };
            }
            const address = normaliseEmail(subject.email);
            const found = await Promise.all(unsubscribeOnly.map((listId) => lookup(listId, address)));
            const members = found.filter((m): m is MailchimpMember => m !== undefined);
            if (members.some((m) => m.id !== subscriberHash(address))) {
              return { key, perPerson: 'Mailchimp holds the member under another spelling of the mailbox' };
            }
            const plan = planConsentState(config.purposeMap, request.decisions, members, audiences);
            const writes: BulkConsentWrite[] = [];
            for (const change of plan.plans) {
              const body = change.body;
              const unsubscribeOnlyBody =
                change.action === 'patch' &&
                body.status === 'unsubscribed' &&
                !body.status_if_new &&
                (body.marketing_permissions ?? []).length === 0;
              if (!unsubscribeOnlyBody) {
                return { key, perPerson: 'the planned Mailchimp write is more than an unsubscribe' };
              }
              writes.push({
                key,
                email: address,
                record: { kind: 'member', container: change.listId },
                fields: { [`membership:${change.listId}`]: 'unsubscribed' },
              });
            }
            return {
              key,
              writes,
              result: {
                outcome: plan.outcome,
                purposes: { ...notApplicable, ...plan.purposes },
                fields: plan.fields,
              },
            };
          } catch (error) {
            return { key, perPerson: error instanceof Error ? error.message : 'the read failed' };
          }
        }),
      );
    },

    async checkAccess() {
      // Mailchimp has no token to obtain: the API key is the credential, so the cheapest authenticated
      // call (one audience id) proves it works.
      await call(
        'authenticate',
        () => api.getAllLists({ count: 1, offset: 0, fields: ['total_items'] }),
        z.object({}).passthrough(),
      );
    },

    async applyConsentState(
      subject: SubjectIdentifiers,
      request: ConsentStateRequest,
    ): Promise<ConsentStateResult> {
      const mapped = Object.keys(config.purposeMap);
      const notApplicable = Object.fromEntries(
        Object.keys(request.decisions)
          .filter((p) => !mapped.includes(p))
          .map((p) => [p, 'not_applicable']),
      ) as ConsentStateResult['purposes'];
      if (!request.changed.some((p) => mapped.includes(p))) {
        return { outcome: 'not_applicable', purposes: notApplicable, fields: {}, records: [] };
      }
      const audiences = await configuredAudiences('applyConsent');
      const fields = mailchimpConsentFields(config.purposeMap, audiences);
      const unsubscribeOnly = unsubscribeOnlyAudiences(fields, request.decisions);
      let members: MailchimpMember[];
      let planned: MailchimpMember[];
      let done = new Set<string>();
      const changed: VendorRecordRef[] = [];
      if (unsubscribeOnly) {
        // An opt-out needs no read first: one PATCH per audience, and its answer is the member afterwards.
        const results = await Promise.all(
          unsubscribeOnly.map((listId) => unsubscribeWithoutReading(listId, subject.email)),
        );
        const written = results.flatMap((r) => (r?.written ? [r.member] : []));
        done = new Set(written.map((m) => m.list_id));
        changed.push(...written.map(memberRef));
        members = results.flatMap((r) => (r ? [r.member] : []));
        // The PATCH cannot tell "was unsubscribed already" from "unsubscribed now"; the plan is made as if
        // the member had been subscribed, so it reports the write as applied and the field as unsubscribed.
        planned = members.map((m) => (done.has(m.list_id) ? { ...m, status: 'subscribed' } : m));
      } else {
        const wanted = [...new Set([...fields.membership, ...fields.permissions].map((f) => f.listId))];
        members = await membersIn('applyConsent', subject.email, wanted);
        planned = members;
      }
      const plan = planConsentState(config.purposeMap, request.decisions, planned, audiences);
      changed.push(
        ...(await writePlans(
          plan.plans.filter((p) => !done.has(p.listId)),
          subject.email,
          members,
        )),
      );
      const changedLists = new Set(changed.map((r) => r.container));
      const records = [...changed, ...members.filter((m) => !changedLists.has(m.list_id)).map(memberRef)];
      log.info(
        { operation: 'applyConsent', outcome: plan.outcome, changed: changed.length },
        'mailchimp consent state',
      );
      return {
        outcome: plan.outcome,
        purposes: { ...notApplicable, ...plan.purposes },
        fields: plan.fields,
        records,
      };
    },

    async verifyConsentState(
      subject: SubjectIdentifiers,
      decisions: DecisionsInForce,
    ): Promise<ConsentVerification> {
      const { audiences, members } = await membersForFields('readConsent', subject.email);
      return { fields: verifyMembers(config.purposeMap, decisions, members, audiences) };
    },

    async find(subject: SubjectIdentifiers) {
      const audiences = await configuredAudiences('find');
      const members = await subjectMembers('find', subject, audiences);
      log.info({ operation: 'find', audiences: audiences.length, found: members.length }, 'mailchimp find');
      return { records: members.map(memberRef), gaClientIds: [], gaUserIds: [] };
    },

    async erase(subject: SubjectIdentifiers) {
      const audiences = await configuredAudiences('erase');
      const members = await subjectMembers('erase', subject, audiences);
      const records: ErasedRecord[] = await Promise.all(
        members.map(async (member): Promise<ErasedRecord> => {
          // Only delete-permanent removes the personal data; DELETE would merely archive the member. The
          // member's own id is its hash as Mailchimp stored it, which a search may have found.
          const deleted = await callUnlessMissing(
            'erase',
            member.list_id,
            () => api.deleteListMemberPermanent(member.list_id, member.id).then(() => true),
            deletionSchema,
          );
          return { ...memberRef(member), result: deleted ? 'deleted' : 'already_gone' };
        }),
      );
      const erased = records.filter((r) => r.result === 'deleted').length;
      log.info({ operation: 'erase', audiences: audiences.length, erased }, 'mailchimp erase');
      return { outcome: erased > 0 ? 'erased' : 'not_found', records };
    },

    /** The subject's member in `record.container` (an audience). */
    async deleteRecord(subject: SubjectIdentifiers, record: VendorRecordRef) {
      if (record.kind !== 'member' || !record.container) {
        throw new NonRetryableVendorError({
          system: 'mailchimp',
          operation: 'erase',
          reason: `a ${record.kind} without an audience is not a Mailchimp record this connector deletes`,
        });
      }
      const listId = record.container;
      // A member a restriction named by its contact id (mailchimpContactRecordId) is deleted by that id: the
      // member path accepts it in place of the subscriber hash (vendor-apis.md), so an address changed since
      // (an upemail during a legal hold) cannot hide the member from its erasure.
      const contactId = mailchimpContactIdOf(record.id);
      if (contactId !== undefined) {
        await requireAudience('erase', listId);
        const deleted = await callUnlessMissing(
          'erase',
          listId,
          () => api.deleteListMemberPermanent(listId, contactId).then(() => true),
          deletionSchema,
        );
        return deleted ? ('deleted' as const) : ('already_gone' as const);
      }
      // The record's id may be kept keyed; the member is looked up again, as `find` found it (by hash, or
      // by search when Mailchimp stored another form of the address).

      const member = (await subjectMembers('erase', subject, [listId]))[0];
      if (!member) return 'already_gone' as const;
      const deleted = await callUnlessMissing(
        'erase',
        listId,
        () => api.deleteListMemberPermanent(listId, member.id).then(() => true),
        deletionSchema,
      );
      return deleted ? ('deleted' as const) : ('already_gone' as const);
    },

    /**
     * Restriction (GDPR Art. 18) in every audience the person is a member of: a subscribed or pending
     * member is unsubscribed (PATCH status), and every member gets the `restricted` tag (POST
     * /lists/{id}/members/{hash}/tags, mailchimp.com/developer/marketing/api/list-member-tags/
     * add-or-remove-member-tags/), so that segments and campaigns can leave them out. Nothing is deleted;
     * a member deleted meanwhile (404) answers `gone`.
     */
    async restrict(subject: SubjectIdentifiers): Promise<RestrictResult> {
      const audiences = await configuredAudiences('restrict');
      const members = await subjectMembers('restrict', subject, audiences);
      if (members.length === 0) return { outcome: 'not_found', records: [] };
      const records: RestrictedRecordRef[] = [];
      for (const member of members) {
        const actions: string[] = [];
        let gone = false;
        if (member.status === 'subscribed' || member.status === 'pending') {
          const updated = await callUnlessMissing(
            'restrict',
            member.list_id,
            () => api.updateListMember(member.list_id, member.id, { status: 'unsubscribed' }),
            memberSchema,
          );
          if (updated) actions.push('status:unsubscribed');
          else gone = true;
        }
        if (!gone && !member.tagNames.includes(restrictedTag)) {
          const tagged = await callUnlessMissing(
            'restrict',
            member.list_id,
            () =>
              api
                .updateListMemberTags(member.list_id, member.id, {
                  tags: [{ name: restrictedTag, status: 'active' }],
                })
                .then(() => true),
            deletionSchema,
          );
          if (tagged) actions.push(`tag:${restrictedTag}`);
          else gone = true;
        }
        records.push({
          ...memberRef(member),
          ...(member.contactId ? { handle: mailchimpContactRecordId(member.contactId) } : {}),
          result: gone ? 'gone' : actions.length > 0 ? 'restricted' : 'already_restricted',
          actions,
        });
      }
      log.info(
        { operation: 'restrict', audiences: audiences.length, members: members.length },
        'mailchimp restrict',
      );
      const kept = records.filter((r) => r.result !== 'gone');
      return { outcome: kept.length > 0 ? 'restricted' : 'not_found', records };
    },

    /**
     * Rectification in every audience the person is a member of: one PATCH per member with the new
     * `email_address` and the `FNAME`/`LNAME` merge fields (Update list member). Mailchimp refuses an
     * address that is already a member of the audience with 400 "Member Exists": non-retryable, so the
     * system waits for an operator (merge or close), and nothing is overwritten.
     */
    async rectify(
      subject: SubjectIdentifiers,
      changes: RectifyChanges,
      own?: VendorRecordRef[],
    ): Promise<RectifyResult> {
      const records: RectifiedRecordRef[] = [];
      let members: MailchimpMember[];
      // Members of this request found already at the new address, by audience: an earlier attempt renamed
      // them (the harvest saw no one else there), so they are reported as changed, the old address before.
      const movedEarlier = new Set<string>();
      if (own) {
        const exact = new Set(own.map((ref) => `${ref.container}:${ref.id}`));
        const audiences = [...new Set(own.flatMap((ref) => (ref.container ? [ref.container] : [])))];
        const atOld = await membersIn('rectify', subject.email, audiences);
        const atNew =
          changes.email && normaliseEmail(changes.email) !== normaliseEmail(subject.email)
            ? await membersIn('rectify', normaliseEmail(changes.email), audiences)
            : [];
        members = [];
        for (const ref of own) {
          const found =
            atOld.find((m) => m.list_id === ref.container && m.id === ref.id) ??
            atNew.find((m) => m.list_id === ref.container);
          if (!found || members.some((m) => m.list_id === found.list_id && m.id === found.id)) {
            if (!found) records.push({ ...ref, result: 'gone', before: {} });
            continue;
          }
          if (!exact.has(`${found.list_id}:${found.id}`)) movedEarlier.add(found.list_id);
          members.push(found);
        }
      } else {
        members = await membersIn('rectify', subject.email, await configuredAudiences('rectify'));
      }
      if (members.length === 0) return { outcome: 'not_found', records };
      const names = new Set<string>();
      for (const member of members) {
        // The values before are read in full here, once, to be hashed by the activity.
        const current = await callUnlessMissing(
          'rectify',
          member.list_id,
          () => api.getListMember(member.list_id, member.id),
          memberValuesSchema,
        );
        if (!current) {
          records.push({ ...memberRef(member), result: 'gone', before: {} });
          continue;
        }
        for (const tag of ['FNAME', 'LNAME']) {
          const name = current.merge_fields[tag];
          if (typeof name === 'string' && name !== '') names.add(name);
        }
        const body: { email_address?: string; merge_fields?: Record<string, string> } = {};
        const before: Record<string, string | null> = {};
        // The new address as written (its local part's case is the person's); compared normalised.
        if (changes.email && normaliseEmail(current.email_address) !== normaliseEmail(changes.email)) {
          body.email_address = changes.email;
          before.email_address = current.email_address;
        }
        const merges: Record<string, string> = {};
        for (const [field, tag] of [
          ['firstname', 'FNAME'],
          ['lastname', 'LNAME'],
        ] as const) {
          const value = changes[field];
          if (value === undefined || current.merge_fields[tag] === value) continue;
          merges[tag] = value;
          const old = current.merge_fields[tag];
          before[`merge_fields.${tag}`] = typeof old === 'string' && old !== '' ? old : null;
        }
        if (Object.keys(merges).length > 0) body.merge_fields = merges;
        if (movedEarlier.has(member.list_id)) before.email_address = subject.email;
        if (Object.keys(body).length === 0) {
          records.push(
            movedEarlier.has(member.list_id)
              ? { ...memberRef(member), result: 'rectified', before }
              : { ...memberRef(member), result: 'already', before: {} },
          );
          continue;
        }
        const updated = await callUnlessMissing(
          'rectify',
          member.list_id,
          () => api.updateListMember(member.list_id, member.id, body),
          memberSchema,
        );
        records.push(
          updated
            ? { ...memberRef({ ...updated, list_id: member.list_id }), result: 'rectified', before }
            : { ...memberRef(member), result: 'gone', before: {} },
        );
      }
      log.info({ operation: 'rectify', members: members.length }, 'mailchimp rectify');
      const kept = records.filter((r) => r.result !== 'gone');
      return { outcome: kept.length > 0 ? 'rectified' : 'not_found', records, names: [...names] };
    },

    /**
     * A rectification's harvest (issue 18): the person's member in every configured audience under the old
     * address, and how many audiences already have a member at the new one (Mailchimp would refuse the
     * PATCH there with "Member Exists" after other audiences were renamed). With `newAddressIsTheirs` (an
     * upemail: Mailchimp moved the member itself) the members at the new address are the person's.
     */
    async planRectification(
      subject: SubjectIdentifiers,
      newEmail: string | undefined,
      newAddressIsTheirs: boolean,
    ): Promise<RectificationPlan> {
      const audiences = await configuredAudiences('rectify');
      const own = (await membersIn('rectify', subject.email, audiences)).map(memberRef);
      if (!newEmail || normaliseEmail(newEmail) === normaliseEmail(subject.email))
        return { own, conflicts: 0 };
      const atNew = (await membersIn('rectify', normaliseEmail(newEmail), audiences)).map(memberRef);
      if (newAddressIsTheirs) return { own: [...own, ...atNew], conflicts: 0 };
      return { own, conflicts: atNew.length, others: atNew };
    },

    async readConsent(subject: SubjectIdentifiers): Promise<ConsentReading> {
      const audiences = await configuredAudiences('readConsent');
      const rules = Object.entries(config.purposeMap);
      const wanted = new Set([
        ...audiences,
        ...rules.flatMap(([, rule]) => purposeAudiences(rule, audiences)),
      ]);
      const members = await membersIn('readConsent', subject.email, [...wanted]);
      const purposes: ConsentReading['purposes'] = {};
      for (const [purpose, rule] of rules) {
        purposes[purpose as keyof typeof purposes] = readPurpose(rule, members, audiences);
      }
      return { purposes, records: members.map(memberRef) };
    },

    /**
     * Members changed since the watermark, audience by audience (`since_last_changed`), each with the
     * consent fields it holds there: its membership (shared by every purpose mapped to membership in that
     * audience) and the mapped GDPR marketing permissions.
     */
    async listChanges(request: ChangeListRequest): Promise<ChangePage> {
      const audiences = await configuredAudiences('list');
      const cursor = cursorSchema.parse(
        request.cursor ? JSON.parse(request.cursor) : { audience: 0, offset: 0 },
      );
      const listId = audiences[cursor.audience];
      if (!listId) return { people: [] };
      const page = await call(
        'list',
        () =>
          api
            .getListMembersInfo(listId, {
              count: request.pageSize,
              offset: cursor.offset,
              ...(request.since ? { sinceLastChanged: request.since } : {}),
            })
            .catch((error: unknown) => {
              // The members of an audience are only "not found" when the audience itself is not there.
              throw isMailchimpNotFound(error) ? mailchimpAudienceMissing(listId, 'list') : error;
            }),
        membersPageSchema,
        listId,
      );
      const consentFields = mailchimpConsentFields(config.purposeMap, audiences);
      const membershipPurposes = purposesUnsubscribedIn(config.purposeMap, listId, audiences);
      const permissionFields = consentFields.permissions.filter((p) => p.listId === listId);
      const people: ObservedPerson[] = page.members.map((member) => ({
        email: normaliseEmail(member.email_address),
        ...(typeof member.id === 'string' ? { recordId: member.id } : {}),
        changedAt: member.last_changed,
        fields: [
          ...(membershipPurposes.length > 0
            ? [
                {
                  field: `membership:${listId}`,
                  purposes: membershipPurposes,
                  value: member.status,
                  state: membershipState(member.status),
                },
              ]
            : []),
          ...permissionFields.flatMap(({ permissionId, purposes }) => {
            const held = member.marketing_permissions?.find(
              (p) => p.marketing_permission_id === permissionId,
            );
            if (held?.enabled === undefined) return [];
            return [
              {
                field: `permission:${listId}:${permissionId}`,
                purposes,
                value: held.enabled ? 'enabled' : 'disabled',
                state: held.enabled ? ('granted' as const) : ('withdrawn' as const),
              },
            ];
          }),
        ],
      }));
      const nextOffset = cursor.offset + page.members.length;
      const more = page.members.length > 0 && nextOffset < page.total_items;
      // Mailchimp tells each audience's size (of the members changed since the watermark) with every page;
      // it is counted once, on the audience's first page.
      const total = (cursor.total ?? 0) + (cursor.offset === 0 ? page.total_items : 0);
      const next = more
        ? { audience: cursor.audience, offset: nextOffset, total }
        : cursor.audience + 1 < audiences.length
          ? { audience: cursor.audience + 1, offset: 0, total }
          : undefined;
      // No latestChange: the latest `last_changed` seen would miss members changed while the run reads, so
      // the reconciliation workflow takes the run's start time (minus an overlap) as the watermark.
      return { people, total, ...(next ? { nextCursor: JSON.stringify(next) } : {}) };
    },

    async applyConsent(subject: SubjectIdentifiers, change: ConsentChange): Promise<ApplyConsentResult> {
      const rule = config.purposeMap[change.purpose];
      if (!rule) return { outcome: 'not_applicable', records: [] };
      const audiences = await configuredAudiences('applyConsent');
      const members = await membersIn('applyConsent', subject.email, purposeAudiences(rule, audiences));
      const { plans, pendingWithoutChange } = planConsentChange(
        rule,
        change.decision,
        change.hasEvidence,
        members,
        audiences,
      );
      const changed = await writePlans(plans, subject.email, members);

      const changedLists = new Set(changed.map((r) => r.container));
      const records = [...changed, ...members.filter((m) => !changedLists.has(m.list_id)).map(memberRef)];
      const pending = pendingWithoutChange || plans.some((p) => p.pending);
      const outcome = pending
        ? 'pending_confirmation'
        : changed.length > 0
          ? 'applied'
          : members.length > 0
            ? 'already'
            : 'not_found';
      log.info(
        {
          operation: 'applyConsent',
          purpose: change.purpose,
          decision: change.decision,
          outcome,
          changed: changed.length,
        },
        'mailchimp consent',
      );
      return { outcome, records };
    },
  };
}

/**
 * What a member's status says about the purposes its membership carries: `subscribed` allows, `unsubscribed`
 * does not; `cleaned` (Mailchimp stopped sending after bounces: no decision of the person), `pending`,
 * `transactional` and `archived` say nothing about marketing consent.
 */
function membershipState(status: string): ConsentStateInTool {
  if (status === 'subscribed') return 'granted';
  if (status === 'unsubscribed') return 'withdrawn';
  return 'unknown';
}
