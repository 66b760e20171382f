import { randomUUID } from 'node:crypto';
import { type Client, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import {
  type ErasureMerge,
  type ErasureReceipt,
  type ErasureRequest,
  type ErasureRequestedUnder,
  type ErasureRequestInput,
  type ErasureStatusView,
  type ErasureTimings,
  erasureRequestSchema,
  type MovedRecordsErasure,
  type SystemErasureState,
} from '../domain/erasure.js';
import type { AttentionItem, ErasureListing, ErasureListStatus } from '../domain/erasure-listing.js';
import { structuredReason } from '../domain/free-text.js';
import { operatorCloseSchema, operatorRetrySchema, type RetryState } from '../domain/operator.js';
import { type SystemName, systemNames } from '../domain/systems.js';
import type { Ledger } from '../ledger/ledger.js';
import { redactSubject } from '../privacy/redaction.js';

export type { ErasureListing, ErasureListStatus } from '../domain/erasure-listing.js';

import { subjectKeyFor } from '../privacy/subject-key.js';
import type { erasureWorkflow } from '../workflows/erasure.js';
import {
  closeSystemUpdate,
  erasureStatusQuery,
  erasureWorkflowId,
  mergeErasureRequestSignal,
  retrySystemUpdate,
} from '../workflows/erasure-definitions.js';
import { erasureStatusAttribute, subjectKeyAttribute } from '../workflows/search-attribute-keys.js';
import { findWorkflowByRequestId } from './find-by-request-id.js';
import { type LegacyKeyWorkflow, runningUnderLegacyKey } from './legacy-key-workflows.js';
import { redactOperatorText } from './operator-text.js';
import { retryStatesOf, type SystemActivityStates } from './pending-activities.js';
import { followRequestedAddress, movedRecordAddresses } from './rekeyed-subjects.js';
import { deadlineSearchAttributes, receiptTimes, registerDeadline } from './request-deadlines.js';
import { RequestNotFound } from './request-errors.js';

export interface HubClientContext {
  client: Client;
  taskQueue: string;
  subjectKeySecret: string;
  timings: ErasureTimings;
  /** CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS: how many days back an intake's `receivedAt` may lie. */
  receivedAtFloorDays?: number;
}

export const erasureWorkflowType = 'erasureWorkflow';
const workflowType = erasureWorkflowType;

export interface ErasureStarted {
  requestId: string;
  subjectKey: string;
  workflowId: string;
  /** True when an erasure for this person was already running and this request was merged into it. */
  joined: boolean;
  /**
   * Set when the erasure joined runs under the key an older version gave another spelling of the address
   * (it started before an upgrade): that key, which `subjectKey` then is too. The ledger moves its rows to
   * the current key when the address is next seen.
   */
  joinedLegacyKey?: string;
  /** When this request was received, and when it is due (one calendar month later): its own, joined or not. */
  receivedAt: string;
  dueAt: string;
  /**
   * For a request that joined a running erasure: the deadline that erasure is tracked under in the ledger
   * (`requests`, `extend`), set by the earliest request it carries, so it is never later than this one's.
   */
  erasureDeadline?: { receivedAt: string; dueAt: string };
  /**
   * Set when the address named was re-keyed by rectifications: the key it names and the re-keys followed;
   * `subjectKey` is then the person's key now, whose address was erased.
   */
  requestedUnder?: ErasureRequestedUnder;
  /** The erasures of the other addresses a half-done rectification moved the person's records between. */
  movedRecords?: MovedRecordsErasure[];
}

/**
 * Starts an erasure, or joins the one already running for the same person: the workflow id is derived from
 * the subject key, and a request is sent with signal-with-start (which needs no worker to be up). A second
 * request while one runs gets the running one's request id, and its GA ids, reason and requester are merged
 * into it (`joined: true`). A request after an erasure completed starts a new one, which the workflow finds
 * tombstoned and reports as a re-erasure naming the first.
 */
export async function requestErasure(
  context: HubClientContext,
  input: ErasureRequestInput,
  /**
   * With the ledger, the request is registered with its deadline (`consent-hub requests`): a person's request.
   * A ledger that can follow re-keys (getSubjectLink, getRectification) makes a request for an address a
   * rectification moved away from act on the person's key and address now (`requestedUnder` says so); one
   * that lists rectification moves also erases the other address of a half-done rectification
   * (`movedRecords`). `movedRecords: false` is that other erasure itself, which starts none in turn and
   * searches the address it is given as named (no re-key followed: it never leads back to the person's
   * erasure). A request that followed a re-key also erases the address it named (requestedAddressErasure):
   * a vendor may still hold someone there the rectification did not move.
   */
  options: { ledger?: ErasureIntakeLedger; movedRecords?: false } = {},
): Promise<ErasureStarted> {
  const parsed = erasureRequestSchema.parse(input);
  const times = receiptTimes(context, parsed.receivedAt);
  const { email, requestedUnder } =
    options.movedRecords === false
      ? { email: parsed.email, requestedUnder: undefined }
      : await currentAddress(context, options.ledger, parsed.email);
  // Free text reaches Temporal and the receipt only as a code and a note scrubbed of the person's data.
  const { reason, reasonNote } = structuredReason(parsed.reason, parsed.reasonNote);
  const identifiers = [...parsed.gaClientIds, ...parsed.gaUserIds];
  const request = {
    ...parsed,
    email,
    receivedAt: times.receivedAt,
    reason,
    ...(reasonNote
      ? {
          reasonNote: redactSubject(redactSubject(reasonNote, { email: parsed.email, identifiers }), {
            email,
            identifiers,
          }),
        }
      : { reasonNote: undefined }),
  };
  const movedRecords =
    options.movedRecords === false
      ? []
      : [
          ...(await eraseMovedRecords(context, options.ledger, request, email)),
          ...(await requestedAddressErasure(context, options.ledger, request, parsed.email, requestedUnder)),
        ];
  const token = randomUUID();
  const merge: ErasureMerge = {
    gaClientIds: request.gaClientIds,
    gaUserIds: request.gaUserIds,
    reason: request.reason,
    ...(request.reasonNote ? { reasonNote: request.reasonNote } : {}),
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    receivedAt: request.receivedAt,
    ...(requestedUnder ? { requestedUnder } : {}),
    ...(movedRecords.length > 0 ? { movedRecords } : {}),
  };
  const intake = {
    ...(requestedUnder ? { requestedUnder } : {}),
    ...(movedRecords.length > 0 ? { movedRecords } : {}),
  };
  // An erasure of the same person still running under an older spelling's key is joined, not doubled.
  const legacy = await runningUnderLegacyKey(
    context.client,
    request.email,
    context.subjectKeySecret,
    erasureWorkflowId,
  );
  if (legacy) {
    const joinedLegacy = await joinLegacyErasure(context, legacy, {
      token,
      subjectKey: legacy.subjectKey,
      ...merge,
    });
    if (joinedLegacy) {
      const deadline = await registerDeadline(
        options.ledger,
        { requestId: legacy.runId, kind: 'erasure', subjectKey: legacy.subjectKey },
        times,
      );
      return {
        requestId: legacy.runId,
        subjectKey: legacy.subjectKey,
        workflowId: legacy.workflowId,
        joined: true,
        joinedLegacyKey: legacy.subjectKey,
        // As any join: its own times, and the erasure's deadline beside them.
        receivedAt: times.receivedAt,
        dueAt: times.dueAt,
        erasureDeadline: { receivedAt: deadline.receivedAt, dueAt: deadline.dueAt },
        ...intake,
      };
    }
  }
  const subjectKey = subjectKeyFor(request.email, context.subjectKeySecret);
  const workflowId = erasureWorkflowId(subjectKey);
  const handle = await context.client.workflow.signalWithStart<typeof erasureWorkflow, [ErasureMergeSignal]>(
    workflowType,
    {
      taskQueue: context.taskQueue,
      workflowId,
      args: [{ subjectKey, request, timings: context.timings, startToken: token, ...intake }],
      signal: mergeErasureRequestSignal,
      // Names the person, so the codec seals the GA ids with their own data key.
      signalArgs: [{ token, subjectKey, ...merge }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      // Random, no personal data: tells this caller whether its own start made the run.
      memo: { startToken: token },
      typedSearchAttributes: [
        { key: subjectKeyAttribute, value: subjectKey },
        { key: erasureStatusAttribute, value: 'running' },
        ...deadlineSearchAttributes('erasure', times.dueAt),
      ],
    },
  );
  const description = await context.client.workflow.getHandle(workflowId, handle.signaledRunId).describe();
  const joined = description.memo?.startToken !== token;
  const requestId = handle.signaledRunId;
  const deadline = await registerDeadline(options.ledger, { requestId, kind: 'erasure', subjectKey }, times);
  // A joined request answers its own times (not the first request's), and the erasure's deadline beside them.
  const own = joined ? times : deadline;
  return {
    requestId,
    subjectKey,
    workflowId,
    joined,
    receivedAt: own.receivedAt,
    dueAt: own.dueAt,
    ...(joined ? { erasureDeadline: { receivedAt: deadline.receivedAt, dueAt: deadline.dueAt } } : {}),
    ...intake,
  };
}

/** What erasure intake reads of the ledger: the deadline's registration, and (optionally) the re-keys. */
export type ErasureIntakeLedger = Pick<Ledger, 'registerRequest'> &
  Partial<
    Pick<
      Ledger,
      | 'getSubjectLink'
      | 'getRectification'
      | 'subjectKeyRecordedSince'
      | 'listRectificationMovePairs'
      | 'getHold'
      | 'listSubjectLinksTo'
    >
  >;

/**
 * The address an erasure acts on: the one requested, or, when rectifications re-keyed it, the person's
 * address now (followRequestedAddress, as every request by address does).
 */
const currentAddress = (context: HubClientContext, ledger: ErasureIntakeLedger | undefined, email: string) =>
  followRequestedAddress(context, ledger, email, 'erase the person by their address now too');

/**
 * Starts (or joins) the erasure of each other address a half-done rectification moved this person's records
 * between (movedRecordAddresses), with this request's reason and requester, so those records and the GA ids
 * they carry are erased too. Answers what the receipt records of each.
 */
async function eraseMovedRecords(
  context: HubClientContext,
  ledger: ErasureIntakeLedger | undefined,
  request: ErasureRequest,
  email: string,
): Promise<MovedRecordsErasure[]> {
  if (!ledger?.listRectificationMovePairs || !ledger.getRectification) return [];
  const others = await movedRecordAddresses(
    context.client,
    {
      listRectificationMovePairs: ledger.listRectificationMovePairs.bind(ledger),
      getRectification: ledger.getRectification.bind(ledger),
      ...(ledger.listSubjectLinksTo ? { listSubjectLinksTo: ledger.listSubjectLinksTo.bind(ledger) } : {}),
    },
    subjectKeyFor(email, context.subjectKeySecret),
    context.subjectKeySecret,
  );
  const erasures: MovedRecordsErasure[] = [];
  // A held person's records at the other address are kept as theirs here are: that erasure is not started.
  const hold =
    others.length > 0 ? await ledger.getHold?.(subjectKeyFor(email, context.subjectKeySecret)) : undefined;
  for (const other of others) {
    const entry: MovedRecordsErasure = {
      subjectKey: other.subjectKey,
      rectificationRequestId: other.rectificationRequestId,
      systems: other.systems,
    };
    if (hold && !hold.releasedAt) {
      entry.note = `the person is on legal hold, so the other address (subject ${other.subjectKey}) was not erased with this one; erase it once the hold is released`;
      erasures.push(entry);
      continue;
    }
    if (!other.email) {
      entry.note = `the other address (subject ${other.subjectKey}) could not be read: rectification ${other.rectificationRequestId} is no longer kept by Temporal; erase that address too`;
      erasures.push(entry);
      continue;
    }
    const started = await requestErasure(context, followOnRequest(request, other.email), {
      ledger,
      movedRecords: false,
    });
    entry.erasureRequestId = started.requestId;
    erasures.push(entry);
  }
  return erasures;
}

/**
 * The request of a follow-on erasure of another address of the person (records a rectification moved, the
 * address a re-key moved them away from): the same reason, note, requester and times, no GA ids (they went
 * with the person's own erasure).
 */
function followOnRequest(request: ErasureRequest, email: string): ErasureRequest {
  return {
    email,
    gaClientIds: [],
    gaUserIds: [],
    reason: request.reason,
    ...(request.reasonNote ? { reasonNote: request.reasonNote } : {}),
    requestedBy: request.requestedBy,
    requestedAt: request.requestedAt,
    ...(request.receivedAt ? { receivedAt: request.receivedAt } : {}),
  };
}

/**
 * For a request that followed a re-key (the person's erasure acts on their address now): starts (or joins)
 * the erasure of the address the request named as one more address of the person to cover, as the moved
 * records' erasures are, because what a vendor still holds there (a form writing to the vendor directly, a
 * late re-subscribe, a lead from an old email) was never moved and the person's erasure does not search it.
 * That erasure searches the named address in every system, as named (no re-key followed), and starts no
 * further one. Answers the receipt's entry for it (keys only), or none when no re-key was followed.
 */
async function requestedAddressErasure(
  context: HubClientContext,
  ledger: ErasureIntakeLedger | undefined,
  request: ErasureRequest,
  requestedEmail: string,
  requestedUnder: ErasureRequestedUnder | undefined,
): Promise<MovedRecordsErasure[]> {
  const firstRekey = requestedUnder?.rekeys[0];
  if (!firstRekey || request.email === requestedEmail) return [];
  const entry: MovedRecordsErasure = {
    subjectKey: requestedUnder.subjectKey,
    rectificationRequestId: firstRekey.rectificationRequestId,
    systems: [...systemNames],
    note: `the address the request named (subject ${requestedUnder.subjectKey}), which the re-key moved the person away from, is searched in every system too: a vendor may still hold records there`,
  };
  // A held person's records are kept wherever they are: that erasure is not started.
  const hold = await ledger?.getHold?.(subjectKeyFor(request.email, context.subjectKeySecret));
  if (hold && !hold.releasedAt) {
    entry.note = `the person is on legal hold, so the address the request named (subject ${requestedUnder.subjectKey}) was not erased with this one; erase it once the hold is released`;
    return [entry];
  }
  const started = await requestErasure(context, followOnRequest(request, requestedEmail), {
    ...(ledger ? { ledger } : {}),
    movedRecords: false,
  });
  entry.erasureRequestId = started.requestId;
  return [entry];
}

type ErasureMergeSignal = ErasureMerge & { token: string };

/**
 * Merges a request into an erasure running under a legacy key (its run, by id); false when that run closed
 * in the meantime, so the caller starts one under the current key instead.
 */
async function joinLegacyErasure(
  context: HubClientContext,
  legacy: LegacyKeyWorkflow,
  signal: ErasureMergeSignal & { subjectKey: string },
): Promise<boolean> {
  try {
    await context.client.workflow
      .getHandle<typeof erasureWorkflow>(legacy.workflowId, legacy.runId)
      .signal(mergeErasureRequestSignal, signal);
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

async function handleFor(context: HubClientContext, requestId: string) {
  const execution = await findWorkflowByRequestId(context.client, workflowType, requestId);
  if (!execution) throw new RequestNotFound(requestId);
  return {
    execution,
    handle: context.client.workflow.getHandle<typeof erasureWorkflow>(execution.workflowId, requestId),
  };
}

export type ErasureLookup =
  | { state: 'completed'; receipt: ErasureReceipt }
  | { state: 'open'; status: ErasureStatusView };

/**
 * The receipt of a finished erasure, or the live status of one still running, with what the worker is
 * retrying per system (attempt, last failure, next retry) from Temporal's pending activities.
 */
export async function lookupErasure(context: HubClientContext, requestId: string): Promise<ErasureLookup> {
  const { execution, handle } = await handleFor(context, requestId);
  if (execution.status.name === 'RUNNING')
    return { state: 'open', status: await liveStatus(context, handle) };
  if (execution.status.name === 'CONTINUED_AS_NEW') {
    // Requests that came while this erasure's receipt was written are carried by a follow-up run: while it
    // runs, its status is this request's; once done, its receipt (naming this one in `followUpOf`).
    const chain = context.client.workflow.getHandle<typeof erasureWorkflow>(execution.workflowId, undefined, {
      firstExecutionRunId: requestId,
    });
    const latest = await chain.describe();
    if (latest.status.name === 'RUNNING') return { state: 'open', status: await liveStatus(context, chain) };
  }
  return { state: 'completed', receipt: await handle.result() };
}

/**
 * How each erasure of records a half-done rectification moved (the receipt's `movedRecords`) stands now, by
 * its request id: its live status while it runs, its receipt's outcome once done, or `not found in Temporal`
 * when it cannot be read (past retention). For the CLI's and the console's receipts.
 */
export async function movedRecordsErasureStates(
  context: HubClientContext,
  receipt: Pick<ErasureReceipt, 'movedRecords'>,
): Promise<Record<string, string>> {
  const now: Record<string, string> = {};
  for (const moved of receipt.movedRecords ?? []) {
    const id = moved.erasureRequestId;
    if (!id) continue;
    try {
      const found = await lookupErasure(context, id);
      now[id] = found.state === 'open' ? found.status.status : found.receipt.outcome;
    } catch {
      now[id] = 'not found in Temporal';
    }
  }
  return now;
}

/** The workflow's status with each system's retry state merged in. */
export async function liveStatus(
  context: HubClientContext,
  handle: WorkflowHandle<typeof erasureWorkflow>,
): Promise<ErasureStatusView> {
  const [status, retrying] = await Promise.all([
    handle.query(erasureStatusQuery),
    retryStatesOf(context.client, handle),
  ]);
  return withRetryStates(status, retrying);
}

/**
 * Sets each system's `attempts` to its vendor call attempts and adds `retrying` to the systems the worker is
 * still retrying; a system no longer running keeps none. The workflow counts the attempts its activities
 * reported (the number its receipt keeps); the retries of an activity still pending are added to it. A
 * workflow whose activities report none (older ones, or kinds that do not) gets Temporal's own counters from
 * the history (pending-activities.ts): the larger of the two, as neither can overcount.
 */
export function withRetryStates<
  V extends { systems: Record<string, { status: string; attempts: number; retrying?: RetryState }> },
>(view: V, states: SystemActivityStates): V {
  const systems = Object.fromEntries(
    Object.entries(view.systems).map(([system, state]) => {
      const retry = states.retrying[system as SystemName];
      const reported = state.attempts + (states.pendingRetries[system as SystemName] ?? 0);
      const attempts = Math.max(reported, states.attempts[system as SystemName] ?? 0);
      return [
        system,
        {
          ...state,
          attempts,
          ...(retry && state.status === 'running' ? { retrying: { ...retry, attempt: attempts } } : {}),
        },
      ];
    }),
  );
  return { ...view, systems } as V;
}

/**
 * Waits for the receipt. When requests came while the erasure's receipt was written, a follow-up erasure
 * carries them out; this waits for it too and answers its receipt, which names the first in `followUpOf`.
 */
export async function awaitReceipt(
  context: HubClientContext,
  started: ErasureStarted,
): Promise<ErasureReceipt> {
  return context.client.workflow
    .getHandle<typeof erasureWorkflow>(started.workflowId, started.requestId)
    .result();
}

/** How long a listing waits for one workflow to say why it needs attention. */
const queryDeadlineMs = 5000;

/**
 * Every erasure (or those with one status or outcome), newest first, each with its outcome and the systems
 * that need or needed a person and why. A finished erasure's outcome comes from the ledger's receipt when
 * one is given, else from the workflow's result.
 */
export async function listErasures(
  context: HubClientContext,
  status?: ErasureListStatus,
  ledger?: Pick<Ledger, 'getReceipt'> & Partial<Pick<Ledger, 'listErasureFollowUps'>>,
  /** One person's erasures only (the console's person page): their subject key, 64 hex digits. */
  subjectKey?: string,
): Promise<ErasureListing[]> {
  if (status === 'needs_follow_up') {
    if (!ledger?.listErasureFollowUps) throw new Error('listing follow-ups needs the ledger');
    return listFollowUps(ledger as Pick<Ledger, 'getReceipt' | 'listErasureFollowUps'>);
  }
  const stateFilter = status === 'completed_with_failures' ? 'completed' : status;
  // `stateFilter` is one of three fixed words (validated by the caller's schema), never free text.
  // This hub's erasures: those on its task queue (a namespace may hold several hubs, or test runs).
  const queue = /^[\w.:/-]+$/.test(context.taskQueue) ? ` AND TaskQueue = '${context.taskQueue}'` : '';
  // A subject key is hex by construction; anything else is refused rather than put into the query.
  if (subjectKey !== undefined && !/^[0-9a-f]{64}$/.test(subjectKey))
    throw new TypeError('subjectKey must be 64 hex digits');
  const subject = subjectKey ? ` AND SubjectKey = '${subjectKey}'` : '';
  const query = `WorkflowType = '${workflowType}'${queue}${subject}${stateFilter ? ` AND ErasureStatus = '${stateFilter}'` : ''}`;
  const listings: ErasureListing[] = [];
  for await (const execution of context.client.workflow.list({ query })) {
    const handle = context.client.workflow.getHandle<typeof erasureWorkflow>(
      execution.workflowId,
      execution.runId,
    );
    const listing: ErasureListing = {
      requestId: execution.runId,
      subjectKey: String(execution.typedSearchAttributes.get(subjectKeyAttribute) ?? ''),
      status: 'running',
      attention: [],
      startedAt: execution.startTime.toISOString(),
      closedAt: execution.closeTime?.toISOString(),
    };
    if (execution.status.name === 'RUNNING') {
      const published = execution.typedSearchAttributes.get(erasureStatusAttribute);
      listing.status = published === 'needs_attention' || published === 'on_hold' ? published : 'running';
      // Only the rows needing attention ask the workflow why; a query needs a worker, so it is bounded.
      if (listing.status === 'needs_attention') {
        const view = await context.client
          .withDeadline(Date.now() + queryDeadlineMs, () => handle.query(erasureStatusQuery))
          .catch(() => undefined);
        if (view) listing.attention = attentionOf(view.systems, ['needs_attention']);
        else listing.note = 'the workflow did not say which system needs attention (is a worker running?)';
      }
    } else {
      const receipt =
        (await ledger?.getReceipt(execution.runId)) ?? (await handle.result().catch(() => undefined));
      listing.status = 'completed';
      if (receipt) {
        listing.outcome = receipt.outcome;
        listing.attention = attentionOf(receipt.systems, ['failed', 'closed_by_operator']);
      }
    }
    if (status === 'completed_with_failures' && listing.outcome !== 'completed_with_failures') continue;
    if (status === 'completed' && listing.outcome === 'completed_with_failures') continue;
    listings.push(listing);
  }
  return listings;
}

function attentionOf(
  systems: Partial<Record<SystemName, SystemErasureState>>,
  statuses: readonly string[],
): AttentionItem[] {
  return Object.entries(systems)
    .filter(([, state]) => state && statuses.includes(state.status))
    .map(([system, state]) => ({
      system: system as SystemName,
      reason:
        state?.status === 'closed_by_operator'
          ? `closed by operator: ${state.closedReason ?? ''}`
          : (state?.failure?.reason ?? state?.status ?? ''),
      ...(state?.status === 'closed_by_operator' || state?.failure?.status === undefined
        ? {}
        : { status: state.failure.status }),
    }));
}

/**
 * Sends the retry update straight to one erasure's workflow. The workflow records it in its operator log;
 * the ledger's log is written by `actOnRequest` (hub-client/requests.ts), which the CLI and the API use.
 */
export async function retryErasureSystem(
  context: HubClientContext,
  requestId: string,
  input: { system: string; operator?: string },
): Promise<ErasureStatusView> {
  const command = operatorRetrySchema.parse(input);
  const { handle } = await handleFor(context, requestId);
  return handle.executeUpdate(retrySystemUpdate, { args: [command] });
}

/** Sends the close update straight to one erasure's workflow (see retryErasureSystem). */
export async function closeErasureSystem(
  context: HubClientContext,
  requestId: string,
  input: { system: string; reason: string; operator?: string },
): Promise<ErasureStatusView> {
  const parsed = operatorCloseSchema.parse(input);
  const { handle } = await handleFor(context, requestId);
  // An operator's words go into the receipt: neither the person's address nor their names survive in them.
  const command = {
    ...parsed,
    reason: await redactOperatorText(handle, parsed.reason, { readCrmNames: true }),
  };
  return handle.executeUpdate(closeSystemUpdate, { args: [command] });
}

/**
 * Erasures that completed with failures and still have a system no later erasure reached, from the ledger:
 * one row per erasure that left a system open, with the systems still open and why they ended so.
 */
async function listFollowUps(
  ledger: Pick<Ledger, 'getReceipt' | 'listErasureFollowUps'>,
): Promise<ErasureListing[]> {
  const byRequest = new Map<string, ErasureListing>();
  for (const open of await ledger.listErasureFollowUps()) {
    let listing = byRequest.get(open.requestId);
    const receipt = await ledger.getReceipt(open.requestId);
    if (!listing) {
      listing = {
        requestId: open.requestId,
        subjectKey: open.subjectKey,
        status: 'completed',
        outcome: 'completed_with_failures',
        attention: [],
        startedAt: receipt?.requestedAt ?? open.since,
        closedAt: receipt?.completedAt ?? open.since,
      };
      byRequest.set(open.requestId, listing);
    }
    const state = receipt?.systems[open.system];
    listing.attention.push({
      system: open.system,
      reason: state?.closedReason
        ? `closed by an operator: ${state.closedReason}`
        : (state?.failure?.reason ?? `ended ${open.status}`),
      ...(state?.failure?.status ? { status: state.failure.status } : {}),
    });
  }
  return [...byRequest.values()];
}
