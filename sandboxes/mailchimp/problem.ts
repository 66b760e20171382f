import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { VendorErrorReply } from '../framework/sandbox-definition.js';

/** Every Mailchimp error points at the same documentation page. */
const problemType = 'https://mailchimp.com/developer/marketing/docs/errors/';

/** Titles Mailchimp uses for the statuses the framework can inject without naming one. */
const defaultTitles: Record<number, string> = {
  400: 'Invalid Resource',
  401: 'API Key Invalid',
  403: 'Forbidden',
  404: 'Resource Not Found',
  405: 'Method Not Allowed',
  429: 'TooManyRequests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  title: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

/** Mailchimp's `application/problem+json` body: `{type, title, status, detail, instance}` (+ `errors[]`). */
export function problemReply(status: number, problem: Problem): VendorErrorReply {
  return {
    contentType: 'application/problem+json; charset=utf-8',
    body: {
      type: problemType,
      title: problem.title,
      status,
      detail: problem.detail,
      instance: randomUUID(),
      ...(problem.errors ? { errors: problem.errors } : {}),
    },
  };
}

/** The framework's errors (injected faults, unexpected failures) in Mailchimp's shape. */
export function defaultProblemReply(status: number, message: string): VendorErrorReply {
  return problemReply(status, { title: defaultTitles[status] ?? 'Error', detail: message });
}

export function sendProblem(reply: FastifyReply, status: number, problem: Problem): FastifyReply {
  const vendorReply = problemReply(status, problem);
  return reply
    .code(status)
    .header('content-type', vendorReply.contentType)
    .send(JSON.stringify(vendorReply.body));
}

export const notFound: Problem = {
  title: 'Resource Not Found',
  detail: 'The requested resource could not be found.',
};
