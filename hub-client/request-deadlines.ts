import { randomUUID } from 'node:crypto';
import { type Client, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import {
  type DeadlineExtension,
  deadlineExtensionSchema,
  defaultReceivedAtFloorDays,
  dueAtFor,
  isOverdue,
  parseReceivedAt,
  type RequestDeadline,
  type RequestKind,
  type RequestListing,
} from '../domain/request-deadline.js';
import type { Ledger } from '../ledger/ledger.js';
import { accessStatusQuery, accessWorkflowId } from '../workflows/access-definitions.js';
import { consentChangeStateQuery, consentWorkflowId } from '../workflows/consent-definitions.js';
import { erasureWorkflowId } from '../workflows/erasure-definitions.js';
import { rectificationStatusQuery, rectificationWorkflowId } from '../workflows/rectification-definitions.js';
import { requestDeadlineSignal } from '../workflows/request-deadline.js';
import {
  consentStatusAttribute,
  dueAtAttribute,
  erasureStatusAttribute,
  requestKindAttribute,
} from '../workflows/search-attribute-keys.js';
import { findRectification } from './find-rectification.js';
import { readsCrmNames, redactOperatorText } from './operator-text.js';
import { OperatorActionRefused, RequestNotFound } from './request-errors.js';

/** What the deadline rail needs of the hub's client context. */
export interface DeadlineContext {
  client: Client;
  /** CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS: how many days back a `receivedAt` may lie (default 90). */
  receivedAtFloorDays?: number;
}

/**
 * The intake side of a request: when it was received (the given `receivedAt`, checked against the clock and
 * the floor, or now) and when it is due. A refused `receivedAt` is a ZodError on `receivedAt`.
 */
export function receiptTimes(
  context: Pick<DeadlineContext, 'receivedAtFloorDays'>,
  receivedAt: string | undefined,
  now = new Date(),
): { receivedAt: string; dueAt: string } {
  const received = parseReceivedAt(receivedAt, {
    now,
    floorDays: context.receivedAtFloorDays ?? defaultReceivedAtFloorDays,
  });
  return { receivedAt: received, dueAt: dueAtFor(received) };
}

/**
 * Registers a started request's deadline in the ledger and answers it as stored: a request that joined an
 * earlier one keeps the earlier `receivedAt`. Without a ledger (a caller that only starts workflows) the
 * times computed at intake stand. ISO 8601 strings.
 */
export async function registerDeadline(
  ledger: Pick<Ledger, 'registerRequest'> | undefined,
  request: { requestId: string; kind: RequestKind; subjectKey: string },
  times: { receivedAt: string; dueAt: string },
): Promise<{ receivedAt: string; dueAt: string }> {
  if (!ledger) return times;
  return ledger.registerRequest({
    ...request,
    receivedAt: times.receivedAt,
    registeredAt: new Date().toISOString(),
  });
}

/** The search attributes a request workflow starts with: its kind and `DueAt`. */
export function deadlineSearchAttributes(kind: RequestKind, dueAt: string): SearchAttributePair[] {
  return [
    { key: requestKindAttribute, value: kind },
    { key: dueAtAttribute, value: new Date(dueAt) },
  ];
}

/**
 * Where a request of each kind is carried, for `extend` to tell its workflow the new `DueAt` and for the
 * listings to see whether it has finished. A kind whose workflow calls `followRequestDeadline()` adds itself
 * here; a consent change has none of its own (one workflow per person carries all their changes), so only
 * the ledger holds its deadline. A rectification's workflow id follows from its request id; one started
 * before that is found by its first run id.
 */
const deadlineWorkflows: Partial<
  Record<
    RequestKind,
    (
      deadline: RequestDeadline,
      client: Client,
    ) => Promise<{ workflowId: string; runId?: string }> | { workflowId: string; runId?: string }
  >
> = {
  erasure: (deadline) => ({ workflowId: erasureWorkflowId(deadline.subjectKey), runId: deadline.requestId }),
  access: (deadline) => ({ workflowId: accessWorkflowId(deadline.requestId) }),
  rectification: async (deadline, client) =>
    (await findRectification({ client }, deadline.requestId)) ?? {
      // Temporal has forgotten it: the describe that follows says so.
      workflowId: rectificationWorkflowId(deadline.requestId),
    },
};

export interface DeadlineExtended {
  requestId: string;
  kind: RequestKind;
  deadline: RequestDeadline;
  recorded: { action: 'extend'; months: number; reason: string; operator: string; at: string };
}

/**
 * Extends an open request's deadline by 1 or 2 months (Art. 12(3): by two further months at most, in all,
 * with the reasons), records it in the request's log (`receipt --log`) and moves the workflow's `DueAt`.
 * Bad input is a ZodError; an unknown id RequestNotFound; a finished request or one beyond the two months
 * OperatorActionRefused saying so.
 */
export async function extendRequestDeadline(
  context: Pick<DeadlineContext, 'client'>,
  ledger: Pick<
    Ledger,
    'extendRequestDeadline' | 'getRequestDeadline' | 'completeRequest' | 'getConsentEvent'
  >,
  requestId: string,
  input: { months: number | string; reason: string; operator: string },
  now = new Date(),
): Promise<DeadlineExtended> {
  const parsed: DeadlineExtension = deadlineExtensionSchema.parse(input);
  const known = await ledger.getRequestDeadline(requestId);
  // The ledger hears of a finished request only when something reads its state (a consent change's run
  // records no completion): its workflow is asked first, so a finished request of any kind is refused here
  // rather than extended, and nothing more is written about its subject.
  if (known && !known.completedAt && (await withState(context.client, ledger, known, now)).completedAt)
    throw new OperatorActionRefused(
      `The ${known.kind} ${requestId} has completed; its deadline cannot be extended.`,
    );
  // The reason is kept in the log: the request's workflow redacts the person (address, the CRM's names).
  const reason = await redactOperatorText(
    known ? await requestWorkflow(context.client, known) : undefined,
    parsed.reason,
    known ? { readCrmNames: readsCrmNames(known.kind) } : {},
  );
  const at = now.toISOString();
  const result = await ledger.extendRequestDeadline({
    requestId,
    months: parsed.months,
    reason,
    operator: parsed.operator,
    at,
    actionId: randomUUID(),
  });
  if (!result.extended) {
    if (result.refused === 'not_found') throw new RequestNotFound(requestId);
    if (result.refused === 'completed')
      throw new OperatorActionRefused(
        `The ${result.deadline?.kind ?? 'request'} ${requestId} has completed; its deadline cannot be extended.`,
      );
    throw new OperatorActionRefused(
      `The deadline of ${requestId} is already extended by ${result.deadline?.extendedMonths ?? 0} month(s); GDPR Art. 12(3) allows two in all, so at most ${2 - (result.deadline?.extendedMonths ?? 0)} more.`,
    );
  }
  await publishDueAt(context.client, result.deadline);
  return {
    requestId,
    kind: result.deadline.kind,
    deadline: result.deadline,
    recorded: { action: 'extend', months: parsed.months, reason, operator: parsed.operator, at },
  };
}

/** The workflow that knows the request's subject: its own, or (a consent change) the person's consent workflow. */
async function requestWorkflow(client: Client, deadline: RequestDeadline): Promise<WorkflowHandle> {
  const target = (await deadlineWorkflows[deadline.kind]?.(deadline, client)) ?? {
    workflowId: consentWorkflowId(deadline.subjectKey),
  };
  return client.workflow.getHandle(target.workflowId, target.runId);
}

/** Tells the request's workflow its new DueAt; a workflow that has closed needs none. */
async function publishDueAt(client: Client, deadline: RequestDeadline): Promise<void> {
  const target = await deadlineWorkflows[deadline.kind]?.(deadline, client);
  if (!target) return;
  try {
    await client.workflow
      .getHandle(target.workflowId, target.runId)
      .signal(requestDeadlineSignal, { dueAt: deadline.dueAt });
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

export interface RequestListFilter {
  /** Only requests still open (those found finished on the way are left out). */
  open?: boolean;
  /** Only open requests past their deadline. */
  overdue?: boolean;
  /** Only open requests due within this many milliseconds from now (overdue ones included). */
  dueWithinMs?: number;
  kind?: RequestKind;
  subjectKey?: string;
}

/**
 * A person's requests across kinds with their deadlines, soonest due first, from the ledger (which keeps
 * them after Temporal's retention), each with its state and whether it is overdue. An open request's state
 * is read from its workflow: an erasure `running` or `needs_attention`, a consent change `open` while the
 * person's consent workflow still works on it; a request whose workflow has finished is marked completed in
 * the ledger on the way.
 */
export async function listRequests(
  context: Pick<DeadlineContext, 'client'>,
  ledger: Pick<Ledger, 'listRequestDeadlines' | 'completeRequest' | 'getConsentEvent'>,
  filter: RequestListFilter = {},
  now = new Date(),
): Promise<RequestListing[]> {
  const windowed = filter.open || filter.overdue || filter.dueWithinMs !== undefined;
  const dueBefore = filter.overdue
    ? now.toISOString()
    : filter.dueWithinMs !== undefined
      ? new Date(now.getTime() + filter.dueWithinMs).toISOString()
      : undefined;
  const rows = await ledger.listRequestDeadlines({
    ...(windowed ? { open: true } : {}),
    ...(dueBefore ? { dueBefore } : {}),
    ...(filter.kind ? { kind: filter.kind } : {}),
    ...(filter.subjectKey ? { subjectKey: filter.subjectKey } : {}),
  });
  const listings: RequestListing[] = [];
  for (const row of rows) {
    const listing = await withState(context.client, ledger, row, now);
    if (windowed && listing.completedAt !== undefined) continue;
    listings.push(listing);
  }
  return listings;
}

/** One request's deadline with its state, for `status` views; undefined when it has none registered. */
export async function requestDeadlineOf(
  context: Pick<DeadlineContext, 'client'>,
  ledger: Pick<Ledger, 'getRequestDeadline' | 'completeRequest' | 'getConsentEvent'>,
  requestId: string,
  now = new Date(),
): Promise<RequestListing | undefined> {
  const row = await ledger.getRequestDeadline(requestId);
  return row ? withState(context.client, ledger, row, now) : undefined;
}

async function withState(
  client: Client,
  ledger: Pick<Ledger, 'completeRequest' | 'getConsentEvent'>,
  row: RequestDeadline,
  now: Date,
): Promise<RequestListing> {
  let deadline = row;
  let state = row.completedAt ? 'completed' : 'open';
  if (!row.completedAt) {
    const live = await liveState(client, ledger, row);
    if (live.completedAt) {
      await ledger.completeRequest(row.requestId, live.completedAt);
      deadline = { ...row, completedAt: live.completedAt };
    }
    state = live.state;
  }
  return { ...deadline, state, overdue: isOverdue(deadline, now) };
}

/** How long a listing waits for a consent workflow to answer about one change before it judges by status. */
const queryDeadlineMs = 5000;

/**
 * Asks a running workflow `ask`, or answers `fallback` when the query fails (a run that predates the query)
 * or no worker answered within 5 s (a query needs one), so a listing never hangs on a busy worker.
 */
async function askWithin<T, F>(ask: () => Promise<T>, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), queryDeadlineMs);
  });
  try {
    return await Promise.race([ask().catch(() => fallback), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One consent change's progress in the person's running workflow (consentChangeStateQuery); `unknown` when
 * the run never saw it, or no worker answered in time, so the caller falls back to the workflow's published
 * status.
 */
function consentChangeState(client: Client, workflowId: string, eventId: string) {
  return askWithin(
    () => client.workflow.getHandle(workflowId).query(consentChangeStateQuery, eventId),
    'unknown' as const,
  );
}

/**
 * A running rectification's or access request's state from its own status query: these workflows publish
 * no status search attribute, so without asking, one waiting for an operator would be listed as running.
 */
async function askedState(
  client: Client,
  kind: 'rectification' | 'access',
  workflowId: string,
  runId?: string,
) {
  const handle = client.workflow.getHandle(workflowId, runId);
  const ask = async (): Promise<{ status: string }> =>
    kind === 'access' ? handle.query(accessStatusQuery) : handle.query(rectificationStatusQuery);
  const view = await askWithin(ask, undefined);
  return view?.status === 'needs_attention' ? 'needs_attention' : 'running';
}

/** An open request's state from its workflow; `completedAt` when the workflow shows it is done. */
async function liveState(
  client: Client,
  ledger: Pick<Ledger, 'getConsentEvent'>,
  row: RequestDeadline,
): Promise<{ state: string; completedAt?: string }> {
  const target =
    row.kind === 'consent'
      ? { workflowId: consentWorkflowId(row.subjectKey) }
      : await deadlineWorkflows[row.kind]?.(row, client);
  if (!target) return { state: 'open' };
  let description: Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>;
  try {
    description = await client.workflow.getHandle(target.workflowId, target.runId).describe();
  } catch (error) {
    // Temporal forgot it (retention) before the ledger heard it finish: it is over either way.
    if (error instanceof WorkflowNotFoundError)
      return { state: 'completed', completedAt: new Date().toISOString() };
    throw error;
  }
  if (description.status.name !== 'RUNNING') {
    return { state: 'completed', completedAt: (description.closeTime ?? new Date()).toISOString() };
  }
  if (row.kind === 'consent') {
    // The person's workflow carries all their changes: this one is done once it is in the ledger and every
    // system it concerns has written (or withheld) it, whatever the person's other changes still wait for.
    const status = description.typedSearchAttributes.get(consentStatusAttribute);
    const change = await consentChangeState(client, target.workflowId, row.requestId);
    const settled = change === 'done' || (change === 'unknown' && status === 'idle');
    if (settled && (await ledger.getConsentEvent(row.requestId)))
      return { state: 'completed', completedAt: new Date().toISOString() };
    return { state: status === 'needs_attention' && change !== 'done' ? 'needs_attention' : 'open' };
  }
  if (row.kind === 'rectification' || row.kind === 'access')
    return { state: await askedState(client, row.kind, target.workflowId, target.runId) };
  const status = description.typedSearchAttributes.get(erasureStatusAttribute);
  return { state: typeof status === 'string' && status !== 'completed' ? status : 'running' };
}
