import type { ProblemField } from '../api/problem.js';

/** Where a form shows a problem with one API field: the input (or fieldset) id, and what the form calls it. */
export interface FormInput {
  input: string;
  label: string;
}

/** One problem as a console form shows it: beside its input, in the form's words, and in the summary. */
export interface FieldProblem {
  /** The API's path of the field (`gaClientIds.1`), kept for the API-minded; never shown as the message. */
  field: string;
  /** The id of the input or fieldset it belongs to; absent when the form has no place for it. */
  input?: string;
  label: string;
  message: string;
}

/** A form's problems, ready for its template: the summary list and, per input, what to show beside it. */
export interface FormProblems {
  errors: FieldProblem[];
  detail: string;
  /** The problems of one input, shown beside it (`<p id="<input>-error">`). */
  at(input: string): FieldProblem[];
  /**
   * The attributes an input carries: `aria-invalid="true"` and `aria-describedby` naming its message when it
   * has a problem, and any hint ids it is always described by. Attribute text, for a raw (`<%~`) include.
   */
  attrs(input: string, ...hints: string[]): string;
}

/**
 * The API's field names inside its messages, in the form's words (the API's "at least one of policyVersion,
 * formId or requestRef" names the inputs "Policy version", "Form id" and "Request reference").
 */
const words: [RegExp, string][] = [
  [/\bpolicyVersion\b/g, 'policy version'],
  [/\bformId\b/g, 'form id'],
  [/\brequestRef\b/g, 'request reference'],
  [
    /\bset at least one of: email, firstname, lastname\b/g,
    'fill in at least one of: new email address, new first name, new last name',
  ],
  [/\bgaClientIds\b/g, 'Google Analytics client ids'],
  [/\bgaUserIds\b/g, 'Google Analytics user ids'],
  [/\breceivedAt\b/g, 'the time the request reached you'],
  [/\boccurredAt\b/g, 'the time the person decided'],
];

const plain = (message: string) => words.reduce((text, [api, form]) => text.replace(api, form), message);

/**
 * Places the API's problems (invalidBody's `errors`) on a form's inputs: each API path goes to the input of
 * its longest mapped prefix (`evidence.formId` to "Form id", `gaClientIds.2` to the client ids with "item 3"),
 * its message in the form's words. Problems no input holds are listed in the summary only.
 */
export function placeProblems(
  errors: readonly ProblemField[],
  inputs: Record<string, FormInput>,
): FormProblems {
  const placed = errors.map((error): FieldProblem => {
    const segments = error.field.split('.');
    for (let length = segments.length; length > 0; length--) {
      const target = inputs[segments.slice(0, length).join('.')];
      if (!target) continue;
      const rest = segments.slice(length);
      const item = rest.length === 1 && /^\d+$/.test(rest[0] ?? '') ? `item ${Number(rest[0]) + 1} ` : '';
      return {
        field: error.field,
        input: target.input,
        label: target.label,
        message: `${item}${plain(error.message)}`,
      };
    }
    return { field: error.field, label: 'This request', message: plain(error.message) };
  });
  const unique = placed.filter(
    (p, i) =>
      placed.findIndex((q) => q.input === p.input && q.message === p.message && q.label === p.label) === i,
  );
  const at = (input: string) => unique.filter((p) => p.input === input);
  return {
    errors: unique,
    detail:
      unique.length === 1
        ? 'One thing needs fixing before it can be sent:'
        : `${unique.length} things need fixing before it can be sent:`,
    at,
    attrs(input, ...hints) {
      const describedBy = [...hints, ...(at(input).length ? [`${input}-error`] : [])];
      return [
        ...(at(input).length ? ['aria-invalid="true"'] : []),
        ...(describedBy.length ? [`aria-describedby="${describedBy.join(' ')}"`] : []),
      ].join(' ');
    },
  };
}

const receivedAt = { input: 'receivedAt', label: 'When the request reached you' };

/** Each new-request form's inputs by the API field they hold (the API's body for that request). */
export const formInputs: Record<
  'erasure' | 'opt-out' | 'consent' | 'access' | 'rectification',
  Record<string, FormInput>
> = {
  erasure: {
    email: { input: 'email', label: 'Email address' },
    gaClientIds: { input: 'gaClientIds', label: 'Google Analytics client ids' },
    gaUserIds: { input: 'gaUserIds', label: 'Google Analytics user ids' },
    reason: { input: 'reason', label: 'Reason' },
    reasonNote: { input: 'reasonNote', label: 'Note' },
    receivedAt,
  },
  access: {
    email: { input: 'email', label: 'Email address' },
    gaClientIds: { input: 'gaClientIds', label: 'Google Analytics client ids' },
    gaUserIds: { input: 'gaUserIds', label: 'Google Analytics user ids' },
    receivedAt,
  },
  consent: consentInputs(),
  'opt-out': consentInputs(),
  rectification: {
    email: { input: 'email', label: 'Email address the systems hold now' },
    'set.email': { input: 'newEmail', label: 'New email address' },
    'set.firstname': { input: 'firstname', label: 'New first name' },
    'set.lastname': { input: 'lastname', label: 'New last name' },
    set: { input: 'changes', label: 'Change to' },
    receivedAt,
  },
};

function consentInputs(): Record<string, FormInput> {
  return {
    email: { input: 'email', label: 'Email address' },
    purpose: { input: 'purposes', label: 'Purposes' },
    decision: { input: 'decision', label: 'Decision' },
    occurredAt: { input: 'occurredAt', label: 'When the person decided' },
    evidence: { input: 'evidence', label: 'Evidence' },
    'evidence.policyVersion': { input: 'policyVersion', label: 'Policy version' },
    'evidence.formId': { input: 'formId', label: 'Form id' },
    'evidence.channel': { input: 'channel', label: 'Channel' },
    'evidence.requestRef': { input: 'requestRef', label: 'Request reference' },
    'evidence.note': { input: 'note', label: 'Note' },
    receivedAt,
  };
}
