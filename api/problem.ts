import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';
import { nameOfField } from '../domain/input-messages.js';

export interface ProblemField {
  field: string;
  message: string;
}

/** An RFC 9457 problem, thrown from a handler and answered by the server's error handler. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: ProblemField[],
  ) {
    super(title);
  }
}

export const problemContentType = 'application/problem+json; charset=utf-8';

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  return reply
    .code(problem.status)
    .type(problemContentType)
    .send(
      JSON.stringify({
        type: 'about:blank',
        title: problem.title,
        status: problem.status,
        detail: problem.detail,
        ...(problem.errors ? { errors: problem.errors } : {}),
      }),
    );
}

/**
 * One entry per field at fault, named by its path (`evidence.formId`, `gaClientIds.0`). zod's messages from the
 * domain schemas never quote an email back; unknown fields are named, so a typo is found at once, unless
 * the name is not identifier-shaped (it may be an address sent as a key): nameOfField.
 */
export function invalidBody(error: ZodError, where = 'body'): ApiProblem {
  const errors = error.issues.flatMap((issue): ProblemField[] => {
    const path = issue.path.map(nameOfField).join('.');
    if (issue.code === 'unrecognized_keys')
      return issue.keys
        .map(nameOfField)
        .map((key) => ({ field: path ? `${path}.${key}` : key, message: 'unknown field' }));
    return [{ field: path || `(${where})`, message: issue.message }];
  });
  return new ApiProblem(
    400,
    'Invalid request',
    `The request ${where} is not valid: ${[...new Set(errors.map((e) => e.field))].join(', ')}.`,
    errors,
  );
}

export const notFoundProblem = () => new ApiProblem(404, 'Not Found', 'There is nothing at this address.');
export const unauthorizedProblem = () =>
  new ApiProblem(401, 'Unauthorized', 'A valid API key is required: Authorization: Bearer <key>.');
