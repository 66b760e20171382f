import type { AccessReceipt, AccessStatusView } from '../domain/access.js';
import type { ErasureReceipt } from '../domain/erasure.js';
import type { ErasureListing } from '../domain/erasure-listing.js';
import type { LegalHold, RestrictionReceipt } from '../domain/hold.js';
import type { RectificationReceipt } from '../domain/rectification.js';
import type { RequestListing } from '../domain/request-deadline.js';
import type { ConsentEvent } from '../ledger/ledger.js';

/** A link a row of the person's requests offers: its page, its receipt, an export to download. */
export interface RowLink {
  href: string;
  text: string;
  download?: boolean;
}

/** One row of the person page's "Requests": any kind, newest first. */
export interface PersonRequestRow {
  /** Absent for a hold, which is the person's and has no request id. */
  requestId?: string;
  kind: string;
  /** For the badge: running, needs_attention, on_hold, completed, completed_with_failures, ready ... */
  state: string;
  /** When it was received or started (ISO 8601); the rows are sorted by it, newest first. */
  at: string;
  dueAt?: string;
  /** A few words more: what a consent change decided, what a rectification changed, what a hold restricted. */
  detail?: string;
  links: RowLink[];
}

/** What the person page gathered about one person, each from the hub-client or ledger call the API uses. */
export interface PersonRecords {
  /** Their requests of every kind with deadlines and states (listRequests by subject key). */
  deadlines: RequestListing[];
  /** Their erasures as Temporal lists them (also those from before deadlines were kept). */
  erasures: ErasureListing[];
  /** Every consent change recorded for them (also those from webhooks and reconciliation, with no deadline). */
  consentEvents: ConsentEvent[];
  erasureReceipts: ErasureReceipt[];
  /** Restriction receipts of their erasures made while they were on hold. */
  restrictions: RestrictionReceipt[];
  /** Access requests' status or receipt, by request id (absent when it could not be read). */
  access: Record<string, AccessStatusView | AccessReceipt>;
  rectifications: RectificationReceipt[];
  /** The latest hold (getHold). */
  hold?: LegalHold;
  /** Every hold the person had (listHolds), oldest first; when given, each is listed, not only `hold`. */
  holds?: LegalHold[];
}

const words = (code: string) => code.replaceAll('_', ' ');
const page = (requestId: string): RowLink => ({
  href: `/console/requests/${requestId}`,
  text: 'Request page',
});

/**
 * The person's requests of every kind as the person page lists them, newest first: erasures (with their
 * receipt, and the restriction when a hold stopped the deletion), consent changes, access requests (with
 * the export's downloads while it may be fetched), rectifications (with their receipt), and the legal hold
 * placed and released. A request known both to the ledger's deadlines and to another source is one row.
 */
export function personRequestRows(records: PersonRecords): PersonRequestRow[] {
  const rows = new Map<string, PersonRequestRow>();
  const receipts = new Map(records.erasureReceipts.map((r) => [r.requestId, r]));
  const restrictions = new Map(records.restrictions.map((r) => [r.requestId, r]));
  const rectifications = new Map(records.rectifications.map((r) => [r.requestId, r]));
  const events = new Map(records.consentEvents.map((e) => [e.id, e]));

  const erasureRow = (requestId: string, at: string, state: string, dueAt?: string): PersonRequestRow => {
    const receipt = receipts.get(requestId);
    const restriction = restrictions.get(requestId);
    return {
      requestId,
      kind: 'erasure',
      state: receipt?.outcome ?? state,
      at,
      ...(dueAt ? { dueAt } : {}),
      ...(restriction
        ? {
            detail: restriction.released
              ? `restricted during a hold (${words(restriction.hold.reason)}), deleted after its release on ${restriction.released.at}`
              : `restricted, not deleted: on hold (${words(restriction.hold.reason)}) since ${restriction.hold.placedAt}`,
          }
        : {}),
      links: [
        page(requestId),
        ...(receipt ? [{ href: `/console/receipts/${requestId}`, text: 'Receipt' }] : []),
      ],
    };
  };
  const accessRow = (requestId: string, at: string, state: string, dueAt?: string): PersonRequestRow => {
    const access = records.access[requestId];
    const fetchable = access?.status === 'ready' && !access.deletedAt;
    return {
      requestId,
      kind: 'access',
      state: access ? ('outcome' in access ? access.outcome : access.status) : state,
      at,
      ...(dueAt ? { dueAt } : {}),
      ...(access?.deletedAt
        ? { detail: `export deleted ${access.deletedAt}` }
        : access?.expiresAt
          ? { detail: `export can be fetched until ${access.expiresAt}` }
          : {}),
      links: [
        page(requestId),
        ...(fetchable
          ? [
              {
                href: `/console/requests/${requestId}/export?format=json`,
                text: 'Download JSON',
                download: true,
              },
              {
                href: `/console/requests/${requestId}/export?format=html`,
                text: 'Download HTML',
                download: true,
              },
            ]
          : []),
      ],
    };
  };
  const rectificationRow = (
    requestId: string,
    at: string,
    state: string,
    dueAt?: string,
  ): PersonRequestRow => {
    const receipt = rectifications.get(requestId);
    return {
      requestId,
      kind: 'rectification',
      state: receipt?.outcome ?? state,
      at,
      ...(dueAt ? { dueAt } : {}),
      ...(receipt ? { detail: `changed ${receipt.fields.join(', ')}` } : {}),
      links: [
        page(requestId),
        ...(receipt ? [{ href: `/console/receipts/${requestId}`, text: 'Receipt' }] : []),
      ],
    };
  };
  const consentRow = (requestId: string, at: string, state: string, dueAt?: string): PersonRequestRow => {
    const event = events.get(requestId);
    return {
      requestId,
      kind: 'consent change',
      state,
      at: event?.occurredAt ?? at,
      ...(dueAt ? { dueAt } : {}),
      ...(event ? { detail: `${words(event.purpose)} ${event.decision}` } : {}),
      links: [page(requestId)],
    };
  };

  for (const row of records.deadlines) {
    const state = row.completedAt ? 'completed' : row.state;
    const made =
      row.kind === 'erasure'
        ? erasureRow(row.requestId, row.receivedAt, state, row.dueAt)
        : row.kind === 'access'
          ? accessRow(row.requestId, row.receivedAt, state, row.dueAt)
          : row.kind === 'rectification'
            ? rectificationRow(row.requestId, row.receivedAt, state, row.dueAt)
            : row.kind === 'consent'
              ? consentRow(row.requestId, row.receivedAt, state, row.dueAt)
              : {
                  requestId: row.requestId,
                  kind: words(row.kind),
                  state,
                  at: row.receivedAt,
                  dueAt: row.dueAt,
                  links: [page(row.requestId)],
                };
    rows.set(row.requestId, made);
  }
  for (const erasure of records.erasures)
    if (!rows.has(erasure.requestId))
      rows.set(
        erasure.requestId,
        erasureRow(erasure.requestId, erasure.startedAt, erasure.outcome ?? erasure.status),
      );
  for (const event of records.consentEvents)
    if (!rows.has(event.id)) rows.set(event.id, consentRow(event.id, event.occurredAt, 'recorded'));

  const holds = records.holds?.length ? records.holds : records.hold ? [records.hold] : [];
  const holdRows: PersonRequestRow[] = holds.flatMap((hold) => [
    {
      kind: 'legal hold',
      state: hold.releasedAt ? 'released' : 'on_hold',
      at: hold.placedAt,
      detail: `placed by ${hold.placedBy} (${words(hold.reason)})`,
      links: [{ href: '#hold-h', text: 'Legal hold' }],
    },
    ...(hold.releasedAt
      ? [
          {
            kind: 'hold released',
            state: 'released',
            at: hold.releasedAt,
            detail: `by ${hold.releasedBy ?? '?'} (${words(hold.releaseReason ?? 'resolved')})`,
            links: [{ href: '#hold-h', text: 'Legal hold' }],
          },
        ]
      : []),
  ]);
  return [...rows.values(), ...holdRows].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
