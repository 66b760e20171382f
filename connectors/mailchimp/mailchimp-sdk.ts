import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import mailchimp from '@mailchimp/mailchimp_marketing';
import pLimit from 'p-limit';
import type { MailchimpConfig } from './config.js';

/**
 * `@mailchimp/mailchimp_marketing` is one process-wide object: its key, base URL and timeout are shared
 * by every caller. This module is the only place that sets them, once, when the first connector is created;
 * a later connector with the same settings reuses them, and one with other settings is refused rather than
 * silently re-pointing calls already in flight.
 *
 * Tests: vitest runs each test file in its own forked process, so each file configures the singleton once
 * for its own sandbox (a wrong-key test lives in a file of its own). Nothing reconfigures it per call.
 *
 * The SDK has no retries of its own (superagent without `.retry()`); Temporal's activity retries are the
 * only retry layer.
 */

/** Public fields of the SDK's ApiClient that its type definitions leave out. */
interface SdkClientFields {
  basePath: string;
  timeout: number;
  /** When true, `agent.attachCookies(request)` is called on every superagent request before it is sent. */
  enableCookies: boolean;
  agent: { attachCookies(request: SuperagentRequest): void; saveCookies(response: unknown): void };
}

/** The part of a superagent (3.x) request the SDK hands to `agent.attachCookies`. */
interface SuperagentRequest {
  agent(agent: HttpAgent): SuperagentRequest;
}

/** The calls the connector makes, as the SDK exposes them (bodies are checked with zod by the caller). */
interface SdkLists {
  getAllLists(opts: { count: number; offset: number; fields?: string[] }): Promise<unknown>;
  getList(listId: string, opts: { fields?: string[] }): Promise<unknown>;
  getListMember(listId: string, subscriberHash: string): Promise<unknown>;
  setListMember(listId: string, subscriberHash: string, body: unknown): Promise<unknown>;
  updateListMember(listId: string, subscriberHash: string, body: unknown): Promise<unknown>;
  deleteListMemberPermanent(listId: string, subscriberHash: string): Promise<unknown>;
  /** `POST /lists/{id}/members/{hash}/tags` `{tags:[{name,status}]}` → 204. */
  updateListMemberTags(
    listId: string,
    subscriberHash: string,
    body: { tags: { name: string; status: 'active' | 'inactive' }[] },
  ): Promise<unknown>;
  /** `GET /lists/{id}/members/{hash}/tags`: `{tags:[{id,name,date_added}], total_items}`. */
  getListMemberTags(
    listId: string,
    subscriberHash: string,
    opts: { count: number; offset: number },
  ): Promise<unknown>;
  /** `GET /lists/{id}/members/{hash}/notes`: `{notes:[{id,note,created_at,...}], total_items}`. */
  getListMemberNotes(
    listId: string,
    subscriberHash: string,
    opts: { count: number; offset: number },
  ): Promise<unknown>;
  /** `GET /lists/{id}/members/{hash}/activity-feed`: `{activity:[{activity_type,created_at_timestamp,...}], total_items}`. */
  getListMemberActivityFeed(
    listId: string,
    subscriberHash: string,
    opts: { count: number; offset: number },
  ): Promise<unknown>;
  /**
   * Batch subscribe or unsubscribe: `POST /lists/{id}` `{members, update_existing}` (at most 500 members)
   * → `{new_members, updated_members, errors, total_created, total_updated, error_count}`.
   */
  batchListMembers(
    listId: string,
    body: { members: { email_address: string; status: string }[]; update_existing: boolean },
    opts: { skipDuplicateCheck?: boolean },
  ): Promise<unknown>;
  getListMembersInfo(
    listId: string,
    opts: { count: number; offset: number; sinceLastChanged?: string; status?: string; fields?: string[] },
  ): Promise<unknown>;
}

/** `GET /search-members?query=&list_id=`: exact matches and a full-text search over addresses and names. */
interface SdkSearchMembers {
  search(query: string, opts: { listId?: string; fields?: string[] }): Promise<unknown>;
}

const sdk = mailchimp as unknown as typeof mailchimp &
  SdkClientFields & { lists: SdkLists; searchMembers: SdkSearchMembers };

/**
 * Mailchimp allows 10 simultaneous connections per API key. One limiter for the whole process keeps every
 * activity of this worker together under MAILCHIMP_MAX_CONCURRENCY; the limit is per key across processes,
 * so one worker per key at the default (or N workers at floor(10 / N) each).
 */
const inFlight = pLimit(10);

interface AppliedSettings {
  apiKey: string;
  apiUrl: string;
  timeoutMs: number;
  maxConcurrency: number;
}
let applied: AppliedSettings | undefined;

export type MailchimpApi = SdkLists & { searchMembers(query: string, listId: string): Promise<unknown> };

function limited<Args extends unknown[]>(
  call: (...args: Args) => Promise<unknown>,
): (...args: Args) => Promise<unknown> {
  return (...args) => inFlight(() => call(...args));
}

const api: MailchimpApi = {
  getAllLists: limited((opts) => sdk.lists.getAllLists(opts)),
  getList: limited((listId, opts) => sdk.lists.getList(listId, opts)),
  searchMembers: limited((query, listId) => sdk.searchMembers.search(query, { listId })),
  getListMember: limited((listId, hash) => sdk.lists.getListMember(listId, hash)),
  setListMember: limited((listId, hash, body) => sdk.lists.setListMember(listId, hash, body)),
  updateListMember: limited((listId, hash, body) => sdk.lists.updateListMember(listId, hash, body)),
  deleteListMemberPermanent: limited((listId, hash) => sdk.lists.deleteListMemberPermanent(listId, hash)),
  getListMembersInfo: limited((listId, opts) => sdk.lists.getListMembersInfo(listId, opts)),
  batchListMembers: limited((listId, body, opts) => sdk.lists.batchListMembers(listId, body, opts)),
  updateListMemberTags: limited((listId, hash, body) => sdk.lists.updateListMemberTags(listId, hash, body)),
  getListMemberTags: limited((listId, hash, opts) => sdk.lists.getListMemberTags(listId, hash, opts)),
  getListMemberNotes: limited((listId, hash, opts) => sdk.lists.getListMemberNotes(listId, hash, opts)),
  getListMemberActivityFeed: limited((listId, hash, opts) =>
    sdk.lists.getListMemberActivityFeed(listId, hash, opts),
  ),
};

/** Configures the SDK singleton (first call only) and answers the limited API every connector uses. */
export function configureMailchimpSdk(config: MailchimpConfig): MailchimpApi {
  const wanted: AppliedSettings = {
    apiKey: config.apiKey,
    apiUrl: config.apiUrl,
    timeoutMs: config.timeoutMs,
    maxConcurrency: config.maxConcurrency,
  };
  if (applied) {
    const same = (Object.keys(wanted) as (keyof AppliedSettings)[]).every((k) => applied?.[k] === wanted[k]);
    if (!same) {
      throw new Error(
        'The Mailchimp SDK is a process-wide singleton and is already configured with other settings; ' +
          'run one Mailchimp configuration per process.',
      );
    }
    return api;
  }
  // No `server`: the SDK would substitute it for the text "server" anywhere in the URL. The full base URL
  // (the key's data centre, or the sandbox) goes in basePath instead.
  sdk.setConfig({ apiKey: config.apiKey });
  sdk.basePath = config.apiUrl;
  sdk.timeout = config.timeoutMs;
  keepConnections(config);
  inFlight.concurrency = config.maxConcurrency;
  applied = wanted;
  return api;
}

/**
 * Mailchimp calls reuse their connections. The SDK sends each call through superagent 3, which opens a new
 * TCP and TLS connection for every request unless given an http(s) Agent (its `agent: false` default), and
 * the SDK passes none: a TLS handshake, a DNS lookup and a new secure context per call were about a tenth of
 * the worker's main-thread CPU in a per-person opt-out wave (README "Worker sizing"), and cost the vendor a
 * handshake and each call a round trip more. The SDK's one per-request hook is its cookie jar
 * (`enableCookies`, `agent.attachCookies(request)` before each send); it is set to a jar that keeps no
 * cookies (the API authenticates by key, it sets none the hub needs) and gives the request a keep-alive
 * Agent. The Agent opens at most `maxConcurrency` sockets, so Mailchimp's 10 simultaneous connections hold at
 * the socket level too; idle sockets do not keep the process alive (Node unrefs them).
 */
function keepConnections(config: MailchimpConfig): void {
  const options = { keepAlive: true, maxSockets: config.maxConcurrency };
  const agent =
    new URL(config.apiUrl).protocol === 'http:' ? new HttpAgent(options) : new HttpsAgent(options);
  sdk.enableCookies = true;
  sdk.agent = {
    attachCookies: (request) => {
      request.agent(agent);
    },
    saveCookies: () => {},
  };
}

/** Calls queued or running right now; for tests and diagnostics. */
export function mailchimpCallsInFlight(): { active: number; pending: number } {
  return { active: inFlight.activeCount, pending: inFlight.pendingCount };
}
