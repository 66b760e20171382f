import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ProblemField } from '../api/problem.js';
import { accessExportFormatSchema } from '../domain/access.js';
import { emailSchema } from '../domain/email.js';
import { holdReasonCodes, releaseReasonCodes } from '../domain/hold.js';
import type { RequestDeadline, RequestListing } from '../domain/request-deadline.js';
import {
  AccessExportUnavailable,
  lookupAccess,
  readAccessExport,
  requestAccess,
} from '../hub-client/access.js';
import {
  acknowledgeAddressChangeRefusal,
  addressChangeResolutions,
} from '../hub-client/address-change-refusals.js';
import { consentStatus, recordConsentChange } from '../hub-client/consent.js';
import { listConsentNeedingAttention } from '../hub-client/consent-attention.js';
import { listErasures, movedRecordsErasureStates, requestErasure } from '../hub-client/erasures.js';
import { placeHold, releaseHold } from '../hub-client/holds.js';
import { reconciliationStatus, startReconciliation } from '../hub-client/reconciliation.js';
import { requestRectification } from '../hub-client/rectifications.js';
import { extendRequestDeadline, listRequests, receiptTimes } from '../hub-client/request-deadlines.js';
import { NotOnHold, OperatorActionRefused, RequestNotFound } from '../hub-client/request-errors.js';
import { actOnRequest, requestStatus } from '../hub-client/requests.js';
import { subjectKeyFor } from '../privacy/subject-key.js';
import {
  accessFromForm,
  acknowledgementFromForm,
  closeFormSchema,
  consentChangesFromForm,
  erasureFromForm,
  extensionFromForm,
  type FormFields,
  type FormResult,
  formChoices,
  formErrorsOf,
  holdFromForm,
  receivedAtClockProblems,
  rectificationFromForm,
  releaseFromForm,
  retryFormSchema,
} from './console-forms.js';
import type { ConsoleContext } from './console-plugin.js';
import { dueLabel, utcMinute } from './due-labels.js';
import { formInputs, placeProblems } from './form-problems.js';
import { personRequestRows } from './person-requests.js';
import { completedRows, type FinishedOutcome, problemsOf, runningRows } from './queue-rows.js';
import { reconciliationRunView } from './reconciliation-rows.js';

const idParams = z.object({ id: z.string().regex(/^[0-9A-Za-z-]{1,100}$/) });
/** How many finished erasures the queues page lists. */
const recentlyCompleted = 20;
/** The due queue: open requests due within this window, overdue ones first (the CLI's --due-within 7d). */
const dueWindowMs = 7 * 24 * 60 * 60 * 1000;

/** How often a running request's page fetches its status region again (htmx; a meta refresh without script). */
const statusRefreshSeconds = 3;

/** How long a consent form waits for its change to reach the ledger before showing the request page. */
const consentRecordWaitMs = 10_000;

async function waitUntil(probe: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await delay(200);
  }
}

function notFound(id: string) {
  return Object.assign(new Error(`No request with id ${id} is known.`), { statusCode: 404 });
}

/** The console's pages: each a thin view over one hub-client or ledger call the API also makes. */
export async function consolePages(app: FastifyInstance, ctx: ConsoleContext) {
  const { deps, render } = ctx;
  const body = (request: { body: unknown }) => (request.body ?? {}) as FormFields;

  app.get('/', async (_request, reply) => reply.redirect('/console/queues', 303));

  app.get('/queues', async (_request, reply) => {
    const now = new Date();
    // Every open request of every kind, each state read from its workflow (listRequests, the call behind
    // `consent-hub requests` and GET /v1/requests); those found finished on the way are marked so in the
    // ledger first, so "Recently completed" below sees them.
    const [open, erasuresNeeding, erasuresRunning, erasuresOnHold, consentAttention] = await Promise.all([
      listRequests(deps.hub, deps.ledger, { open: true }, now),
      listErasures(deps.hub, 'needs_attention', deps.ledger),
      listErasures(deps.hub, 'running', deps.ledger),
      listErasures(deps.hub, 'on_hold', deps.ledger),
      listConsentNeedingAttention(deps.hub, deps.ledger),
    ]);
    const done = await deps.ledger.listRequestDeadlines({ completed: true, limit: recentlyCompleted });
    const attention = [
      ...erasuresNeeding.map((row) => ({ ...row, kind: 'erasure', operation: 'erase' })),
      ...consentAttention.map((row) => ({ ...row, kind: 'consent change', operation: 'write consent' })),
      ...(await needingAttention(open)),
    ];
    // The due queue is `consent-hub requests --due-within 7d` (GET /v1/requests?dueWithin=7d): the open
    // requests due before a week from now, in the ledger's order, soonest due first.
    const dueBefore = new Date(now.getTime() + dueWindowMs).toISOString();
    const due = open.filter((row) => row.dueAt < dueBefore);
    return render(reply, 'queues', {
      title: 'Queues',
      due: due.map((row) => ({ ...row, label: dueLabel(row.dueAt, now) })),
      attention,
      running: runningRows(open, [...erasuresRunning, ...erasuresOnHold]),
      completed: completedRows(done, Object.fromEntries(await Promise.all(done.map(finishedOutcome)))),
      utcMinute,
    });
  });

  /** A finished request's outcome from its receipt in the ledger, by kind (a consent change has none). */
  async function finishedOutcome(row: RequestDeadline): Promise<[string, FinishedOutcome | undefined]> {
    const receipt =
      row.kind === 'erasure'
        ? await deps.ledger.getReceipt(row.requestId)
        : row.kind === 'access'
          ? await deps.ledger.getAccessReceipt(row.requestId)
          : row.kind === 'rectification'
            ? await deps.ledger.getRectification(row.requestId)
            : undefined;
    return [
      row.requestId,
      receipt ? { outcome: receipt.outcome, problems: problemsOf(receipt.systems) } : undefined,
    ];
  }

  /**
   * Open rectifications and access requests with a system that needs attention, as queue rows. Neither
   * publishes a status search attribute, so each one listRequests found waiting for a person is asked for
   * its status (the same requestStatus as its page); there are few at a time.
   */
  async function needingAttention(open: readonly RequestListing[]) {
    const waiting = open.filter(
      (row) => row.state === 'needs_attention' && (row.kind === 'rectification' || row.kind === 'access'),
    );
    const rows = await Promise.all(
      waiting.map(async (row) => {
        const status = await requestStatus(deps.hub, deps.ledger, row.requestId).catch((error) => {
          if (error instanceof RequestNotFound) return undefined;
          throw error;
        });
        const view =
          status?.kind === 'rectification' && status.rectification.state === 'open'
            ? {
                systems: status.rectification.status.systems,
                startedAt: status.rectification.status.requestedAt,
              }
            : status?.kind === 'access'
              ? { systems: status.access.systems, startedAt: status.access.requestedAt }
              : undefined;
        if (!view) return [];
        const attention = Object.entries(view.systems)
          .filter(([, state]) => state.status === 'needs_attention')
          .map(([system, state]) => {
            const failure = state.failure ?? state.retrying?.lastFailure;
            return {
              system,
              reason: failure?.reason ?? state.status,
              ...(failure?.status === undefined ? {} : { status: failure.status }),
            };
          });
        return attention.length
          ? [
              {
                requestId: row.requestId,
                kind: row.kind,
                operation: row.kind === 'access' ? 'read for export' : 'rectify',
                attention,
                startedAt: view.startedAt,
              },
            ]
          : [];
      }),
    );
    return rows.flat();
  }

  app.get('/people', async (_request, reply) => render(reply, 'find-person', { title: 'Find a person' }));
  /**
   * An address refused: the search form again (400) with what was typed, so a typo is corrected rather than
   * retyped, and why it is not an address (`not a valid email address: has no @`), as the other forms say.
   */
  const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
  const findPersonRefused = (reply: Parameters<typeof render>[0], typed: unknown, error: z.ZodError) =>
    render(
      reply,
      'find-person',
      {
        title: 'Find a person',
        typed: typeof typed === 'string' ? typed : '',
        error: `${sentence(error.issues[0]?.message ?? 'not a valid email address')}. Enter an address such as ada.lovelace@example.com.`,
      },
      400,
    );
  /** A person's page, answered to a POST (never a GET), so their address is in no URL. */
  const showPerson = async (
    reply: Parameters<typeof render>[0],
    email: string,
    notice?: string,
    holdForm?: { values: FormFields; errors: unknown; detail: string },
    code = 200,
    /** An acknowledge form refused: the refusal's id and why, shown above the refused address changes. */
    acknowledgeForm?: { id: string; errors: unknown; detail: string },
  ) => {
    const subjectKey = subjectKeyFor(email, deps.hub.subjectKeySecret);
    const [
      consent,
      deadlines,
      erasures,
      consentEvents,
      tombstone,
      receipts,
      hold,
      holds,
      addressChangeRefusals,
    ] = await Promise.all([
      consentStatus(deps.hub, deps.ledger, email),
      listRequests(deps.hub, deps.ledger, { subjectKey }),
      listErasures(deps.hub, undefined, deps.ledger, subjectKey),
      deps.ledger.listConsentEvents(subjectKey),
      deps.ledger.getTombstone(subjectKey),
      deps.ledger.listReceipts({ subjectKey }),
      deps.ledger.getHold(subjectKey),
      deps.ledger.listHolds(subjectKey),
      // A vendor's address change the hub refused: the vendors disagree on this person's address.
      deps.ledger.listAddressChangeRefusals({ subjectKey }),
    ]);
    const ids = (kind: string) => deadlines.filter((row) => row.kind === kind).map((row) => row.requestId);
    const erasureIds = [...new Set([...ids('erasure'), ...erasures.map((row) => row.requestId)])];
    const [restrictions, access, rectifications] = await Promise.all([
      Promise.all(erasureIds.map((id) => deps.ledger.getRestriction(id))),
      Promise.all(
        // An access request that cannot be read now (Temporal forgot it and no receipt is kept) is listed
        // from its deadline alone.
        ids('access').map(async (id) => [
          id,
          await lookupAccess(deps.hub, id, deps.ledger).catch(() => undefined),
        ]),
      ),
      Promise.all(ids('rectification').map((id) => deps.ledger.getRectification(id))),
    ]);
    const requests = personRequestRows({
      deadlines,
      erasures,
      consentEvents,
      erasureReceipts: receipts,
      restrictions: restrictions.filter((r) => r !== undefined),
      access: Object.fromEntries(access.filter(([, status]) => status !== undefined)),
      rectifications: rectifications.filter((r) => r !== undefined),
      ...(hold ? { hold } : {}),
      holds,
    });
    return render(
      reply,
      'person',
      {
        title: 'Person',
        email,
        subjectKey,
        consent,
        requests,
        tombstone,
        receipts: [
          ...receipts.map((r) => ({ ...r, kind: 'Erasure' })),
          ...rectifications.filter((r) => r !== undefined).map((r) => ({ ...r, kind: 'Rectification' })),
        ].sort((a, b) => (a.completedAt < b.completedAt ? 1 : -1)),
        hold,
        addressChangeRefusals,
        notice,
        holdForm,
        holdReasons: holdReasonCodes,
        releaseReasons: releaseReasonCodes,
        resolutions: addressChangeResolutions,
        acknowledgeForm,
        utcMinute,
      },
      code,
    );
  };

  /**
   * A hold or release form refused: shown again on the person page with the API's messages field by field
   * (400), or why nothing changed (409). A form whose address is not an address (the page's hidden field
   * was altered) has no person page to go back to: the search form says so.
   */
  const holdRefused = (
    reply: Parameters<typeof render>[0],
    form: FormFields,
    problem: { errors: { field: string; message: string }[]; detail: string },
    code: number,
  ) => {
    const email = emailSchema.safeParse(form.email);
    if (!email.success) return findPersonRefused(reply, form.email, email.error);
    return showPerson(reply, email.data, undefined, { values: form, ...problem }, code);
  };

  // Hold and release take the address from the person page's form body, and answer with that page. They
  // are checked with the API's own body schemas (POST /v1/holds, /v1/holds/release) before anything is sent.
  app.post('/people/hold', async (request, reply) => {
    const form = body(request);
    const parsed = holdFromForm(form);
    if (!parsed.ok) return holdRefused(reply, form, parsed, 400);
    const result = await placeHold(deps.hub, deps.ledger, {
      ...parsed.value,
      placedBy: ctx.operatorOf(request),
    });
    if (!result.placed) {
      // The API answers 200 with placed: false; nothing changed, so the form says why.
      const message = `This person was already on hold (${result.hold.reason.replaceAll('_', ' ')}, since ${result.hold.placedAt}); that hold is kept as it was.`;
      return holdRefused(reply, form, { errors: [{ field: 'reason', message }], detail: message }, 409);
    }
    return showPerson(reply, parsed.value.email, 'hold');
  });
  app.post('/people/release', async (request, reply) => {
    const form = body(request);
    const parsed = releaseFromForm(form);
    if (!parsed.ok) return holdRefused(reply, form, parsed, 400);
    try {
      await releaseHold(deps.hub, deps.ledger, {
        ...parsed.value,
        releasedBy: ctx.operatorOf(request),
      });
    } catch (error) {
      if (!(error instanceof NotOnHold)) throw error;
      const message =
        'This person is not on hold (it was released meanwhile, or never placed): nothing was released.';
      return holdRefused(reply, form, { errors: [{ field: 'reason', message }], detail: message }, 409);
    }
    return showPerson(reply, parsed.value.email, 'release');
  });

  // A refused address change acknowledged from the person page, as POST
  // /v1/address-change-refusals/{id}/acknowledge does (operator and time recorded); the page comes back.
  app.post('/people/address-change-refusals/acknowledge', async (request, reply) => {
    const form = body(request);
    const email = emailSchema.safeParse(form.email);
    if (!email.success) return findPersonRefused(reply, form.email, email.error);
    const parsed = acknowledgementFromForm(form);
    const again = (problem: { errors: unknown; detail: string }, code: number) =>
      showPerson(reply, email.data, undefined, undefined, code, { id: String(form.id ?? ''), ...problem });
    if (!parsed.ok) return again(parsed, 400);
    // Only a refusal this person's page lists (theirs, or one whose new address is theirs): an id of another
    // person's posted from this page answers as an unknown one, acknowledging nothing on a page that never
    // showed it.
    const subjectKey = subjectKeyFor(email.data, deps.hub.subjectKeySecret);
    const listed = await deps.ledger.getAddressChangeRefusal(parsed.value.id);
    if (!listed || (listed.subjectKey !== subjectKey && listed.newSubjectKey !== subjectKey))
      throw notFound(parsed.value.id);
    try {
      await acknowledgeAddressChangeRefusal(deps.ledger, parsed.value.id, {
        resolution: parsed.value.resolution,
        operator: ctx.operatorOf(request),
      });
    } catch (error) {
      if (error instanceof RequestNotFound) throw notFound(parsed.value.id);
      // Acknowledged meanwhile (another operator, the API): theirs stands, and the page says whose.
      if (error instanceof OperatorActionRefused)
        return again(
          { errors: [{ field: 'resolution', message: error.message }], detail: error.message },
          409,
        );
      throw error;
    }
    return showPerson(reply, email.data, 'acknowledged');
  });

  // POST, so the address is in no URL, no access log line and no browser history entry.
  app.post('/people', async (request, reply) => {
    const typed = body(request).email;
    const parsed = emailSchema.safeParse(typed);
    if (!parsed.success) return findPersonRefused(reply, typed, parsed.error);
    return showPerson(reply, parsed.data);
  });

  /** A request's page; a form refused on it is shown again with its errors (`problem`) and `status`. */
  const showRequest = async (
    request: { query: unknown },
    reply: Parameters<typeof render>[0],
    id: string,
    extra: Record<string, unknown> = {},
    code = 200,
  ) => {
    const status = await requestStatus(deps.hub, deps.ledger, id).catch((error) => {
      throw error instanceof RequestNotFound ? notFound(id) : error;
    });
    const log = await deps.ledger.listOperatorActions(id);
    const running =
      status.kind === 'erasure'
        ? status.lookup.state === 'open'
        : status.kind === 'access'
          ? status.access.status === 'running' || status.access.status === 'needs_attention'
          : status.kind === 'rectification'
            ? status.rectification.state === 'open'
            : status.subject.from === 'workflow';
    const deadline = status.deadline;
    return render(
      reply,
      'request',
      {
        title: `Request ${id}`,
        id,
        status,
        log,
        running,
        deadline,
        due: deadline ? dueLabel(deadline.dueAt, new Date()) : undefined,
        // Art. 12(3): two further months at most, and only while the request is open.
        mayExtend: Boolean(deadline && deadline.completedAt === undefined && deadline.extendedMonths < 2),
        notice: (request.query as { done?: string }).done,
        refreshEvery: statusRefreshSeconds,
        asOf: new Date().toISOString(),
        closeReasons: formChoices.closeReasons,
        utcMinute,
        ...extra,
      },
      code,
    );
  };

  app.get('/requests/:id', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    return showRequest(request, reply, id);
  });

  app.post('/requests/:id/extension', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const form = body(request);
    const again = (problem: { errors: unknown; detail: string }, code: number) =>
      showRequest({ query: {} }, reply, id, { extension: { values: form, ...problem } }, code);
    const parsed = extensionFromForm(form);
    if (!parsed.ok) return again(parsed, 400);
    try {
      await extendRequestDeadline(deps.hub, deps.ledger, id, {
        ...parsed.value,
        operator: ctx.operatorOf(request),
      });
    } catch (error) {
      if (error instanceof RequestNotFound) throw notFound(id);
      // The API answers 409 with this text: the request finished, or two months are already granted.
      if (error instanceof OperatorActionRefused)
        return again({ errors: [{ field: 'months', message: error.message }], detail: error.message }, 409);
      throw error;
    }
    return reply.redirect(`/console/requests/${id}?done=extend`, 303);
  });

  const act = async (id: string, run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (error instanceof RequestNotFound) throw notFound(id);
      if (error instanceof OperatorActionRefused)
        throw Object.assign(new Error(error.message), { statusCode: 409 });
      throw error;
    }
  };
  app.post('/requests/:id/retry', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const { system } = retryFormSchema.parse(body(request));
    await act(id, () =>
      actOnRequest(deps.hub, deps.ledger, id, { action: 'retry', system, operator: ctx.operatorOf(request) }),
    );
    return reply.redirect(`/console/requests/${id}?done=retry`, 303);
  });
  app.post('/requests/:id/close', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const form = closeFormSchema.parse({ ...body(request), note: body(request).note || undefined });
    const reason = form.note ? `${form.reasonCode}: ${form.note}` : form.reasonCode;
    await act(id, () =>
      actOnRequest(deps.hub, deps.ledger, id, {
        action: 'close',
        system: form.system,
        reason,
        operator: ctx.operatorOf(request),
      }),
    );
    return reply.redirect(`/console/requests/${id}?done=close`, 303);
  });

  const newForms = {
    erasure: { view: 'new-erasure', title: 'New erasure' },
    'opt-out': { view: 'new-opt-out', title: 'New opt-out' },
    consent: { view: 'new-consent', title: 'New consent change' },
    access: { view: 'new-access', title: 'New access request' },
    rectification: { view: 'new-rectification', title: 'New rectification' },
  } as const;
  type NewKind = keyof typeof newForms;
  const formParams = z.object({ kind: z.enum(['erasure', 'opt-out', 'consent', 'access', 'rectification']) });
  /** A new-request form: empty, prefilled, or shown again with its problems beside their fields (400). */
  const showForm = (
    reply: Parameters<typeof render>[0],
    kind: NewKind,
    values: FormFields,
    errors: ProblemField[] = [],
    extra: Record<string, unknown> = {},
  ) =>
    render(
      reply,
      newForms[kind].view,
      {
        title: newForms[kind].title,
        choices: formChoices,
        // The typed values are shown again, so nothing is lost; the response is no-store.
        values,
        problems: placeProblems(errors, formInputs[kind]),
        ...extra,
      },
      errors.length ? 400 : 200,
    );
  app.get('/new/:kind', async (request, reply) => {
    const { kind } = formParams.parse(request.params);
    return showForm(reply, kind, {});
  });

  /**
   * The requests a form starts, each through the same hub-client call as its API route and CLI command
   * (registered with its deadline); a ZodError thrown there (a `receivedAt` refused against the clock a
   * moment later) is shown on the form like the form's own problems.
   */
  const starter = <T>(parsed: FormResult<T>, start: (value: T) => Promise<{ requestId: string }>) =>
    parsed.ok ? { errors: [], run: () => start(parsed.value) } : { errors: parsed.errors, run: undefined };
  const starters = {
    erasure: (form: FormFields, operator: string) =>
      starter(erasureFromForm(form, operator), (value) =>
        requestErasure(
          deps.hub,
          { ...value, requestedBy: operator, requestedAt: new Date().toISOString() },
          { ledger: deps.ledger },
        ),
      ),
    access: (form: FormFields, operator: string) =>
      starter(accessFromForm(form, operator), (value) =>
        requestAccess(
          deps.hub,
          { ...value, requestedBy: operator, requestedAt: new Date().toISOString() },
          { ledger: deps.ledger },
        ),
      ),
    rectification: (form: FormFields, operator: string) =>
      starter(rectificationFromForm(form, operator), (value) =>
        requestRectification(
          deps.hub,
          { ...value, requestedBy: operator, requestedAt: new Date().toISOString() },
          { ledger: deps.ledger },
        ),
      ),
  };

  /**
   * A new-request form for the person whose page the operator is on, with their address filled in: the page
   * posts it (a POST, so the address is in no URL, history entry or access log line) and gets the form back.
   */
  app.post('/new/:kind/for-person', async (request, reply) => {
    const { kind } = formParams.parse(request.params);
    const typed = body(request).email;
    const email = emailSchema.safeParse(typed);
    if (!email.success) return findPersonRefused(reply, typed, email.error);
    return showForm(reply, kind, { email: email.data }, [], { forPerson: true });
  });

  app.post('/new/:kind', async (request, reply) => {
    const { kind } = formParams.parse(request.params);
    const form = body(request);
    const operator = ctx.operatorOf(request);
    // The received time against the clock, reported with every other problem of the form at once.
    const clock = receivedAtClockProblems(form, deps.hub);
    const refuse = (errors: ProblemField[]) =>
      showForm(reply, kind, form, [
        ...errors,
        ...(errors.some((e) => e.field === 'receivedAt') ? [] : clock),
      ]);
    const refusedLater = (error: unknown) => {
      if (error instanceof z.ZodError) return showForm(reply, kind, form, formErrorsOf(error).errors);
      throw error;
    };
    if (kind === 'erasure' || kind === 'access' || kind === 'rectification') {
      const { errors, run } = starters[kind](form, operator);
      if (!run || clock.length) return refuse(errors);
      let started: { requestId: string };
      try {
        started = await run();
      } catch (error) {
        return refusedLater(error);
      }
      return reply.redirect(`/console/requests/${started.requestId}`, 303);
    }
    const changes = consentChangesFromForm(
      kind === 'opt-out' ? { ...form, decision: 'withdrawn' } : form,
      operator,
    );
    if (!changes.ok || clock.length) return refuse(changes.ok ? [] : changes.errors);
    try {
      // The date against the clock and the floor once more, before the first change is sent.
      receiptTimes(deps.hub, changes.value[0]?.receivedAt);
    } catch (error) {
      return refusedLater(error);
    }
    const accepted = [];
    for (const change of changes.value)
      accepted.push(await recordConsentChange(deps.hub, change, undefined, { ledger: deps.ledger }));
    const eventId = accepted[0]?.eventId as string;
    // A change's id is known to the request page once the subject's workflow has written it to the ledger
    // (its first step); waiting for that here spares the operator a "not known" page a moment after sending.
    await waitUntil(async () => Boolean(await deps.ledger.getConsentEvent(eventId)), consentRecordWaitMs);
    return reply.redirect(`/console/requests/${eventId}`, 303);
  });

  // The export itself, decrypted here as `consent-hub access get` and GET /v1/access-requests/{id}/export
  // do (readAccessExport), while it may be fetched; a download, never cached (the onSend hook).
  app.get('/requests/:id/export', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const format = accessExportFormatSchema.parse((request.query as { format?: string }).format ?? 'json');
    if (!deps.accessExports)
      throw Object.assign(new Error('This hub has no export directory configured for the console.'), {
        statusCode: 503,
      });
    try {
      const { content } = await readAccessExport(deps.hub, deps.accessExports, id, format);
      return reply
        .type(format === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8')
        .header('content-disposition', `attachment; filename="access-${id}.${format}"`)
        .send(content);
    } catch (error) {
      if (error instanceof RequestNotFound) throw notFound(id);
      // Still being gathered, or deleted when its time ran out: said as such.
      if (error instanceof AccessExportUnavailable)
        throw Object.assign(new Error(error.message), { statusCode: 409 });
      throw error;
    }
  });

  /** A receipt by its request's id: an erasure's, a rectification's or an access request's (all kept in the ledger). */
  const receiptOf = async (id: string) => {
    const erasure = await deps.ledger.getReceipt(id);
    if (erasure) return { kind: 'erasure' as const, heading: 'Erasure receipt', receipt: erasure };
    const rectification = await deps.ledger.getRectification(id);
    if (rectification)
      return { kind: 'rectification' as const, heading: 'Rectification receipt', receipt: rectification };
    const access = await deps.ledger.getAccessReceipt(id);
    if (access) return { kind: 'access' as const, heading: 'Access request receipt', receipt: access };
    throw notFound(id);
  };
  app.get('/receipts/:id', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const found = await receiptOf(id);
    const print = (request.query as { print?: string }).print === '1';
    // The erasures of records a half-done rectification moved are requests of their own: how each stands.
    const movedNow =
      found.kind === 'erasure' && 'movedRecords' in found.receipt && found.receipt.movedRecords?.length
        ? await movedRecordsErasureStates(deps.hub, found.receipt)
        : {};
    return render(reply, print ? 'receipt-print' : 'receipt', { title: `Receipt ${id}`, ...found, movedNow });
  });
  app.get('/receipts/:id/json', async (request, reply) => {
    const { id } = idParams.parse(request.params);
    const { kind, receipt } = await receiptOf(id);
    return reply
      .type('application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="${kind}-receipt-${id}.json"`)
      .send(`${JSON.stringify(receipt, null, 2)}\n`);
  });

  app.get('/reconciliation', async (request, reply) => {
    const view = await reconciliationStatus(deps.hub, deps.ledger);
    return render(reply, 'reconciliation', {
      title: 'Reconciliation',
      view,
      runView: (report: object) => reconciliationRunView(report as Record<string, unknown>),
      notice: (request.query as { done?: string }).done,
    });
  });
  app.post('/reconciliation/run', async (_request, reply) => {
    await startReconciliation(deps.hub, { full: false });
    return reply.redirect('/console/reconciliation?done=started', 303);
  });
}
