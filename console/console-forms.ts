import { z } from 'zod';
import {
  accessBodySchema,
  addressChangeAcknowledgementSchema,
  addressChangeRefusalParamsSchema,
  consentEventBodySchema,
  deadlineExtensionBodySchema,
  erasureBodySchema,
} from '../api/api-schemas.js';
import { invalidBody, type ProblemField } from '../api/problem.js';
import { holdBodySchema, releaseBodySchema } from '../api/routes/hold-routes.js';
import { rectificationBodySchema } from '../api/routes/rectification-routes.js';
import { erasureReasonCodes } from '../domain/free-text.js';
import { closeReasonCodes as operatorCloseReasonCodes } from '../domain/operator.js';
import { purposeSchema } from '../domain/purposes.js';
import { systemNameSchema } from '../domain/systems.js';
import { type DeadlineContext, receiptTimes } from '../hub-client/request-deadlines.js';

/**
 * The console's forms arrive as application/x-www-form-urlencoded strings. Each is turned into the API's own
 * body and checked with the API's schema, so a form accepts exactly what the API accepts and shows the
 * API's problem messages, field by field.
 */
export type FormResult<T> = { ok: true; value: T } | { ok: false; errors: ProblemField[]; detail: string };

const text = (value: unknown) =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
const list = (value: unknown) =>
  (typeof value === 'string' ? value.split(/[\s,]+/) : []).map((item) => item.trim()).filter(Boolean);
const many = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : [];

function checked<T extends z.ZodType>(schema: T, body: unknown): FormResult<z.output<T>> {
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const problem = invalidBody(result.error);
  return { ok: false, errors: problem.errors ?? [], detail: problem.detail };
}

export type FormFields = Record<string, unknown>;

/** The erasure form: the API's POST /v1/erasures body; `requestedBy` is the operator. */
export function erasureFromForm(form: FormFields, operator: string) {
  return checked(erasureBodySchema, {
    email: text(form.email) ?? '',
    gaClientIds: list(form.gaClientIds),
    gaUserIds: list(form.gaUserIds),
    reason: text(form.reason) ?? 'subject_request',
    ...(text(form.reasonNote) ? { reasonNote: text(form.reasonNote) } : {}),
    ...receivedAtOf(form),
    requestedBy: operator,
  });
}

/** The access request form: the API's POST /v1/access-requests body; `requestedBy` is the operator. */
export function accessFromForm(form: FormFields, operator: string) {
  return checked(accessBodySchema, {
    email: text(form.email) ?? '',
    gaClientIds: list(form.gaClientIds),
    gaUserIds: list(form.gaUserIds),
    ...receivedAtOf(form),
    requestedBy: operator,
  });
}

/**
 * The extension form: the body of POST /v1/requests/{id}/extension. The radio buttons send "1" or "2"; any
 * other text is passed on as it is, so the API's own message names what is wrong.
 */
export function extensionFromForm(form: FormFields) {
  const months = text(form.months);
  return checked(deadlineExtensionBodySchema, {
    months: months !== undefined && /^\d{1,2}$/.test(months) ? Number(months) : months,
    reason: text(form.reason) ?? '',
  });
}

/**
 * The rectification form: the API's POST /v1/rectifications body. The person's current address, and under
 * `set` only the fields the operator filled in (new email, first name, last name), so an empty field means
 * "leave as it is" and a form with none filled gets the API's own "set at least one of" message.
 */
export function rectificationFromForm(form: FormFields, operator: string) {
  const set = Object.fromEntries(
    (
      [
        ['email', 'newEmail'],
        ['firstname', 'firstname'],
        ['lastname', 'lastname'],
      ] as const
    )
      .map(([field, input]) => [field, text(form[input])])
      .filter(([, value]) => value !== undefined),
  );
  return checked(rectificationBodySchema, {
    email: text(form.email) ?? '',
    set,
    ...receivedAtOf(form),
    requestedBy: operator,
  });
}

/**
 * The person page's hold form: the body of POST /v1/holds (the address from the page, the reason code
 * picked); the operator is added after the check, as the API adds the calling key.
 */
export function holdFromForm(form: FormFields) {
  return checked(holdBodySchema, { email: text(form.email) ?? '', reason: text(form.reason) ?? '' });
}

/** The release form: the body of POST /v1/holds/release. An empty reason is the API's default (resolved). */
export function releaseFromForm(form: FormFields) {
  return checked(releaseBodySchema, {
    email: text(form.email) ?? '',
    ...(text(form.reason) ? { reason: text(form.reason) } : {}),
  });
}

/**
 * The person page's acknowledge form for a refused address change: the id (the path of POST
 * /v1/address-change-refusals/{id}/acknowledge) and the body (the resolution code), checked with the API's
 * schemas; the operator is added after the check, as the API adds the calling key.
 */
export function acknowledgementFromForm(form: FormFields) {
  return checked(addressChangeRefusalParamsSchema.extend(addressChangeAcknowledgementSchema.shape), {
    id: text(form.id) ?? '',
    resolution: text(form.resolution) ?? '',
  });
}

/** A refusal thrown after the form was read (a `receivedAt` in the future, say), as the form shows it. */
export function formErrorsOf(error: z.ZodError): { errors: ProblemField[]; detail: string } {
  const problem = invalidBody(error);
  return { errors: problem.errors ?? [], detail: problem.detail };
}

/**
 * A consent change (grant or withdrawal with evidence), or an opt-out: one withdrawal per ticked purpose,
 * all validated before any is sent, as the CLI's `opt-out` does.
 */
export function consentChangesFromForm(form: FormFields, operator: string) {
  const purposes = many(form.purpose);
  const evidence = Object.fromEntries(
    (['policyVersion', 'formId', 'channel', 'requestRef', 'note'] as const)
      .map((field) => [field, text(form[field])])
      .filter(([, value]) => value !== undefined),
  );
  const bodies = (purposes.length ? purposes : ['']).map((purpose) => ({
    email: text(form.email) ?? '',
    purpose,
    decision: text(form.decision) ?? 'withdrawn',
    occurredAt: text(form.occurredAt) ? toIso(String(form.occurredAt)) : new Date().toISOString(),
    source: operator,
    evidence,
    ...receivedAtOf(form),
  }));
  const results = bodies.map((body) => checked(consentEventBodySchema, body));
  const failed = results.filter((r): r is Extract<typeof r, { ok: false }> => !r.ok);
  if (failed.length) {
    // With no purpose ticked the API's own message ("unknown purpose \"\"") names nothing the form shows.
    const errors = dedupe(failed.flatMap((r) => r.errors)).map((e) =>
      e.field === 'purpose' && purposes.length === 0 ? { ...e, message: 'tick at least one purpose' } : e,
    );
    return { ok: false as const, errors, detail: failed[0]?.detail ?? '' };
  }
  return {
    ok: true as const,
    value: results.flatMap((r) => (r.ok ? [r.value] : [])),
  };
}

/**
 * The "request reached you" time against the hub's clock and floor (in the future, or too long ago), checked
 * with the form's other fields rather than after them: the same check as the API's, on `receivedAt`. No
 * problem when the field is empty or is not a date (the schema names that).
 */
export function receivedAtClockProblems(
  form: FormFields,
  context: Pick<DeadlineContext, 'receivedAtFloorDays'>,
  now = new Date(),
): ProblemField[] {
  const { receivedAt } = receivedAtOf(form);
  if (!receivedAt || !z.iso.datetime({ offset: true }).safeParse(receivedAt).success) return [];
  try {
    receiptTimes(context, receivedAt, now);
    return [];
  } catch (error) {
    if (error instanceof z.ZodError) return formErrorsOf(error).errors;
    throw error;
  }
}

/** The optional "request reached you" field, as the API's `receivedAt`. */
function receivedAtOf(form: FormFields): { receivedAt?: string } {
  const value = text(form.receivedAt);
  return value ? { receivedAt: toIso(value) } : {};
}

/** A `datetime-local` input has no zone: it is read as UTC and said so next to the field. */
function toIso(value: string): string {
  const withSeconds = /T\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
  return /[zZ]|[+-]\d{2}:\d{2}$/.test(withSeconds) ? withSeconds : `${withSeconds}Z`;
}

function dedupe(errors: ProblemField[]): ProblemField[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Closing a system: a reason code and an optional note, kept together as the close reason. */
export const closeFormSchema = z.object({
  system: systemNameSchema,
  reasonCode: z.enum(closeReasonCodes()),
  note: z.string().trim().max(400).optional(),
});

/** Why an operator closes a system instead of retrying it (domain/operator.ts). */
export function closeReasonCodes() {
  return operatorCloseReasonCodes;
}

export const retryFormSchema = z.object({ system: systemNameSchema });

export const findPersonSchema = z.object({ email: z.string() });

export const formChoices = {
  erasureReasons: erasureReasonCodes,
  closeReasons: closeReasonCodes(),
  purposes: purposeSchema.options,
};
