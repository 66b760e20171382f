import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dataverseCodes, dataverseError } from './errors.js';
import type { DynamicsStore } from './store.js';

/**
 * Dataverse's `$batch` (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api,
 * which summarises OData 4.0 part 1, 11.7 "Batch Requests"):
 * - `POST /api/data/v9.2/$batch` with `Content-Type: multipart/mixed; boundary=batch_<id>`; each part is
 *   `Content-Type: application/http`, `Content-Transfer-Encoding: binary`, then a request line, headers, a blank
 *   line and the body. "Batch requests can contain up to 1000 individual requests and can't contain other batch
 *   requests."
 * - A part may be a change set (`multipart/mixed; boundary=changeset_<id>`): its requests "succeed or fail as a
 *   group" and may carry `Content-ID`; `$<n>` at the start of a later URL in the same change set stands for the
 *   entity the request with Content-ID n created. GET requests are not allowed inside a change set.
 * - Requests run in order and the responses come in the same order, as `multipart/mixed; boundary=batchresponse_<id>`
 *   (change sets as `changesetresponse_<id>`). Without `Prefer: odata.continue-on-error` processing stops at the
 *   first failure and the batch answers 400 with the responses up to and including it; with it, every request
 *   runs, the batch answers 200 and `Preference-Applied: odata.continue-on-error`. A failed change set is rolled
 *   back and answers one response, the failing request's error.
 * - Service protection limits (data-platform/api-limits) count each request inside the batch, not the batch.
 *
 * Each inner request is run through this same server (with the caller's Authorization), so that it meets the
 * same routes, privilege checks, faults and request-rate limit as a request of its own; it does not take a
 * concurrency slot of its own or add the sandbox's network latency again.
 */

export const maxBatchRequests = 1000;

/** Marks requests the batch runs through the server; only this process knows the value. */
export const batchPartHeader = 'x-sandbox-batch-part';
const batchPartToken = randomBytes(16).toString('hex');

export function isBatchPart(request: FastifyRequest): boolean {
  return request.headers[batchPartHeader] === batchPartToken;
}

interface InnerRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  contentId?: string;
}

type BatchItem = { kind: 'request'; request: InnerRequest } | { kind: 'changeset'; requests: InnerRequest[] };

class BatchFormatError extends Error {}

function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/mixed\b/i.test(contentType.trim())) return undefined;
  return /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
}

/** Headers up to the first blank line, and the rest. Lines may end in CRLF or LF. */
function splitHead(text: string): { headers: Record<string, string>; rest: string } {
  const lines = text.split(/\r?\n/);
  const headers: Record<string, string> = {};
  let index = 0;
  for (; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '') break;
    const colon = line.indexOf(':');
    if (colon < 0) throw new BatchFormatError(`A batch part has a malformed header line.`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, rest: lines.slice(index + 1).join('\r\n') };
}

/** The parts between `--boundary` delimiters, up to `--boundary--`. */
function parts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const end = body.indexOf(`${delimiter}--`);
  if (end < 0) throw new BatchFormatError(`The batch body does not end with ${delimiter}--.`);
  return body
    .slice(0, end)
    .split(delimiter)
    .slice(1)
    .map((part) => part.replace(/^\r?\n/, '').replace(/\r?\n$/, ''));
}

function innerRequest(part: string, inChangeSet: boolean): InnerRequest {
  const outer = splitHead(part);
  if (!/^application\/http\b/i.test(outer.headers['content-type'] ?? '')) {
    throw new BatchFormatError('Each batch part must have Content-Type: application/http.');
  }
  const lines = outer.rest.split(/\r\n/);
  const requestLine = /^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)(\s+HTTP\/1\.1)?$/i.exec((lines[0] ?? '').trim());
  if (!requestLine)
    throw new BatchFormatError('A batch part does not start with a request line (METHOD URL HTTP/1.1).');
  const inner = splitHead(lines.slice(1).join('\r\n'));
  const method = (requestLine[1] ?? '').toUpperCase();
  if (inChangeSet && method === 'GET') {
    throw new BatchFormatError('GET requests are not allowed inside a change set.');
  }
  return {
    method,
    url: requestLine[2] ?? '',
    headers: inner.headers,
    body: inner.rest.trim(),
    contentId: outer.headers['content-id'],
  };
}

export function parseBatch(contentType: string | undefined, body: string): BatchItem[] {
  const boundary = boundaryOf(contentType);
  if (!boundary)
    throw new BatchFormatError('A $batch request needs Content-Type: multipart/mixed with a boundary.');
  return parts(body, boundary).map((part): BatchItem => {
    const head = splitHead(part);
    const changeSetBoundary = boundaryOf(head.headers['content-type']);
    if (changeSetBoundary) {
      return {
        kind: 'changeset',
        requests: parts(head.rest, changeSetBoundary).map((p) => innerRequest(p, true)),
      };
    }
    return { kind: 'request', request: innerRequest(part, false) };
  });
}

interface InnerResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  contentId?: string;
}

const reasonPhrases: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The response headers a client of the batch needs; transport headers stay out. */
const keptHeaders = [
  'content-type',
  'odata-version',
  'location',
  'odata-entityid',
  'etag',
  'retry-after',
  'preference-applied',
];

function responsePart(response: InnerResponse): string {
  const head = [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    ...(response.contentId ? [`Content-ID: ${response.contentId}`] : []),
  ];
  const headers = keptHeaders
    .filter((name) => response.headers[name] !== undefined)
    .map(
      (name) =>
        `${name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()).replace('Odata', 'OData')}: ${response.headers[name]}`,
    );
  return [
    ...head,
    '',
    `HTTP/1.1 ${response.status} ${reasonPhrases[response.status] ?? 'Unknown'}`,
    ...headers,
    '',
    response.body,
  ].join('\r\n');
}

function multipart(boundary: string, bodies: string[]): string {
  return `${bodies.map((b) => `--${boundary}\r\n${b}\r\n`).join('')}--${boundary}--\r\n`;
}

function pickHeaders(request: FastifyRequest, names: string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = request.headers[name];
      return typeof value === 'string' ? [[name, value]] : [];
    }),
  );
}

/** Registers `POST /$batch` in the Web API scope. */
export function dataverseBatchRoute(
  scope: FastifyInstance,
  deps: { store: DynamicsStore; apiPath: string; authorised: (request: FastifyRequest) => boolean },
): void {
  scope.addContentTypeParser('multipart/mixed', { parseAs: 'string' }, (_request, body, done) =>
    done(null, String(body)),
  );

  const fail = (reply: FastifyReply, status: number, message: string, code?: string) => {
    const error = dataverseError(status, message, code);
    return reply
      .code(status)
      .header('content-type', error.contentType)
      .header('odata-version', '4.0')
      .send(JSON.stringify(error.body));
  };

  /** Runs one inner request through the server; `$n` at the start of its URL is a created entity's URL. */
  async function run(
    request: FastifyRequest,
    inner: InnerRequest,
    created: Map<string, string>,
  ): Promise<InnerResponse> {
    let url = inner.url;
    const reference = /^\$([^/?]+)(.*)$/.exec(url);
    if (reference) {
      const target = created.get(reference[1] ?? '');
      if (!target) {
        return {
          status: 400,
          headers: { 'content-type': 'application/json; odata.metadata=minimal' },
          body: JSON.stringify(
            dataverseError(400, `Content-ID ${reference[1]} is not defined in this change set.`).body,
          ),
          contentId: inner.contentId,
        };
      }
      url = `${target}${reference[2] ?? ''}`;
    }
    const path = new URL(url, `https://sandbox.invalid${deps.apiPath}/`);
    const answer = await scope.inject({
      method: inner.method as 'GET',
      url: `${path.pathname}${path.search}`,
      headers: {
        // The parts carry only their own headers in Microsoft's examples; the version headers are the batch's.
        ...pickHeaders(request, ['odata-version', 'odata-maxversion', 'accept']),
        ...inner.headers,
        authorization: request.headers.authorization ?? '',
        [batchPartHeader]: batchPartToken,
      },
      ...(inner.body === '' ? {} : { payload: inner.body }),
    });
    const headers = Object.fromEntries(
      Object.entries(answer.headers).flatMap(([name, value]) =>
        value === undefined
          ? []
          : [[name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value)]],
      ),
    );
    if (inner.contentId && headers['odata-entityid']) created.set(inner.contentId, headers['odata-entityid']);
    return { status: answer.statusCode, headers, body: answer.body, contentId: inner.contentId };
  }

  scope.post('/$batch', async (request, reply) => {
    if (!deps.authorised(request)) {
      return fail(
        reply,
        401,
        'The access token is missing, invalid or has expired.',
        dataverseCodes.unauthorized,
      );
    }
    let items: BatchItem[];
    try {
      items = parseBatch(
        request.headers['content-type'],
        typeof request.body === 'string' ? request.body : '',
      );
    } catch (error) {
      if (error instanceof BatchFormatError) return fail(reply, 400, error.message);
      throw error;
    }
    const count = items.reduce((sum, item) => sum + (item.kind === 'request' ? 1 : item.requests.length), 0);
    if (count > maxBatchRequests) {
      return fail(reply, 400, `The number of requests in a batch exceeds the limit of ${maxBatchRequests}.`);
    }
    const continueOnError = /(^|[,\s])odata\.continue-on-error\b/i.test(String(request.headers.prefer ?? ''));
    const answers: string[] = [];
    let failed = false;
    for (const item of items) {
      if (item.kind === 'request') {
        const response = await run(request, item.request, new Map());
        answers.push(responsePart(response));
        if (response.status >= 400) failed = true;
      } else {
        const restore = deps.store.checkpoint();
        const created = new Map<string, string>();
        const responses: InnerResponse[] = [];
        let failure: InnerResponse | undefined;
        for (const inner of item.requests) {
          const response = await run(request, inner, created);
          if (response.status >= 400) {
            failure = response;
            break;
          }
          responses.push(response);
        }
        if (failure) {
          restore();
          failed = true;
          answers.push(responsePart(failure));
        } else {
          const boundary = `changesetresponse_${randomUUID()}`;
          answers.push(
            `Content-Type: multipart/mixed; boundary=${boundary}\r\n\r\n${multipart(boundary, responses.map(responsePart))}`,
          );
        }
      }
      if (failed && !continueOnError) break;
    }
    const boundary = `batchresponse_${randomUUID()}`;
    reply
      .code(failed && !continueOnError ? 400 : 200)
      .header('content-type', `multipart/mixed; boundary=${boundary}`)
      .header('odata-version', '4.0');
    if (continueOnError) reply.header('preference-applied', 'odata.continue-on-error');
    return reply.send(multipart(boundary, answers));
  });
}
