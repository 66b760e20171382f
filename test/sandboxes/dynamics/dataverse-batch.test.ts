import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DynamicsStore, dynamicsSandbox } from '../../../sandboxes/dynamics/sandbox.js';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/**
 * Dataverse's `$batch`, driven with multipart bodies written by hand from Microsoft's page
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
 * (and the service protection page, data-platform/api-limits). Only the sandbox's own package is imported.
 */

const tenantId = randomUUID();
const clientId = randomUUID();
const clientSecret = 'batch secret';
const ada = '00000000-0000-4000-8000-0000000000a1';
const bob = '00000000-0000-4000-8000-0000000000b2';
const missing = '00000000-0000-4000-8000-0000000000ff';

interface Part {
  contentId?: string;
  status: number;
  body: string;
}

/** A multipart/mixed body's parts, written from the page's examples (CRLF line ends). */
function splitParts(body: string, boundary: string): string[] {
  const end = body.indexOf(`--${boundary}--`);
  return body
    .slice(0, end)
    .split(`--${boundary}`)
    .slice(1)
    .map((p) => p.trim());
}

/** Each response in order; a change set's responses are flattened, each keeping its Content-ID. */
function responses(contentType: string, body: string): Part[] {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)?.[1] ?? '';
  return splitParts(body, boundary).flatMap((part) => {
    const inner = /boundary=(changesetresponse_[^;\s]+)/.exec(part)?.[1];
    if (inner) return responses(`boundary=${inner}`, part);
    const contentId = /^Content-ID:\s*(\S+)/im.exec(part)?.[1];
    const status = Number(/^HTTP\/1\.1 (\d{3})/m.exec(part)?.[1]);
    const json = part.indexOf('{');
    return [{ contentId, status, body: json >= 0 ? part.slice(json) : '' }];
  });
}

const patchPart = (id: string, values: Record<string, unknown>, contentId?: string) =>
  [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    ...(contentId ? [`Content-ID: ${contentId}`] : []),
    '',
    `PATCH /api/data/v9.2/contacts(${id}) HTTP/1.1`,
    'Content-Type: application/json',
    'If-Match: *',
    '',
    JSON.stringify(values),
  ].join('\r\n');

const getPart = (path: string) =>
  [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    `GET ${path} HTTP/1.1`,
    'Accept: application/json',
    '',
  ].join('\r\n');

function batchBody(boundary: string, parts: string[]): string {
  return `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
}

function changeSet(boundary: string, parts: string[]): string {
  return `Content-Type: multipart/mixed; boundary=${boundary}\r\n\r\n${batchBody(boundary, parts)}`;
}

describe('Dataverse $batch, raw multipart from Microsoft’s page', () => {
  let sandbox: RunningSandbox<DynamicsStore>;
  let control: SandboxClient;
  let token: string;

  const send = async (parts: string[], prefer?: string) => {
    const answer = await fetch(`${sandbox.url}/api/data/v9.2/$batch`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        'OData-MaxVersion': '4.0',
        'OData-Version': '4.0',
        'Content-Type': 'multipart/mixed; boundary=batch_AAA123',
        ...(prefer ? { Prefer: prefer } : {}),
      },
      body: batchBody('batch_AAA123', parts),
    });
    const contentType = answer.headers.get('content-type') ?? '';
    const text = await answer.text();
    return {
      status: answer.status,
      headers: answer.headers,
      contentType,
      parts: contentType.startsWith('multipart/mixed') ? responses(contentType, text) : [],
      text,
    };
  };
  const contact = async (id: string) =>
    (await (
      await fetch(`${sandbox.url}/api/data/v9.2/contacts(${id})?$select=donotbulkemail,donotemail`, {
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          'OData-MaxVersion': '4.0',
          'OData-Version': '4.0',
        },
      })
    ).json()) as { donotbulkemail: boolean; donotemail: boolean };

  beforeAll(async () => {
    sandbox = await startTestSandbox(dynamicsSandbox, {
      tenantId,
      clientId,
      clientSecret,
      requestsPerWindow: 40,
    });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    await control.reset();
    await control.seed({
      contacts: [
        { contactid: ada, emailaddress1: 'ada@example.com', donotbulkemail: false, donotemail: false },
        { contactid: bob, emailaddress1: 'bob@example.com', donotbulkemail: false, donotemail: false },
      ],
    });
    const answer = await fetch(`${sandbox.url}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: `${sandbox.url}/.default`,
      }),
    });
    token = ((await answer.json()) as { access_token: string }).access_token;
  });

  it('runs the requests in order and answers each in a multipart/mixed batchresponse, in the same order', async () => {
    const answer = await send([
      patchPart(ada, { donotbulkemail: true }),
      patchPart(bob, { donotemail: true }),
      getPart(`/api/data/v9.2/contacts(${bob})?$select=donotemail`),
    ]);
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^multipart\/mixed; boundary=batchresponse_/);
    expect(answer.parts.map((p) => p.status)).toEqual([204, 204, 200]);
    expect(JSON.parse(answer.parts[2]?.body ?? '{}').donotemail).toBe(true);
    expect((await contact(ada)).donotbulkemail).toBe(true);
    // The request log tells the one HTTP call apart from the requests it carried.
    const log = (await control.requests()) as { method: string; path: string; inner?: boolean }[];
    const batchLog = log.filter((e) => e.path.endsWith('/$batch') || e.inner);
    expect(batchLog.map((e) => [e.method, e.inner ?? false])).toEqual([
      ['PATCH', true],
      ['PATCH', true],
      ['GET', true],
      ['POST', false],
    ]);
  });

  it('takes a GET whose URL passes 32 KB inside a batch, up to 64 KB (compose-http-requests-handle-errors, "Maximum URL length")', async () => {
    const path = (padding: number) =>
      `/api/data/v9.2/contacts?$select=emailaddress1&$filter=${encodeURIComponent(
        `Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=['ada@example.com','${'x'.repeat(padding)}'])`,
      )}`;
    const long = await send([getPart(path(40_000))], 'odata.continue-on-error');
    expect(long.parts.map((p) => p.status)).toEqual([200]);
    expect(JSON.parse(long.parts[0]?.body ?? '{}').value).toEqual([
      expect.objectContaining({ emailaddress1: 'ada@example.com' }),
    ]);
    const tooLong = await send([getPart(path(70_000))], 'odata.continue-on-error');
    expect(tooLong.parts.map((p) => p.status)).toEqual([414]);
  });

  it('without odata.continue-on-error stops at the first failure and answers 400 with the responses up to it', async () => {
    const answer = await send([
      patchPart(ada, { donotbulkemail: true }),
      patchPart(missing, { donotbulkemail: true }),
      patchPart(bob, { donotbulkemail: true }),
    ]);
    expect(answer.status).toBe(400);
    expect(answer.parts.map((p) => p.status)).toEqual([204, 404]);
    expect(JSON.parse(answer.parts[1]?.body ?? '{}').error.code).toBe('0x80040217');
    expect((await contact(bob)).donotbulkemail).toBe(false);
  });

  it('with Prefer: odata.continue-on-error runs every request, answers 200 and says the preference was applied', async () => {
    const answer = await send(
      [
        patchPart(ada, { donotbulkemail: true }),
        patchPart(missing, { donotbulkemail: true }),
        patchPart(bob, { donotbulkemail: true }),
      ],
      'odata.continue-on-error',
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get('preference-applied')).toBe('odata.continue-on-error');
    expect(answer.parts.map((p) => p.status)).toEqual([204, 404, 204]);
    expect((await contact(bob)).donotbulkemail).toBe(true);
  });

  it('applies a change set as a group, answering each request with its Content-ID', async () => {
    const answer = await send([
      changeSet('changeset_BBB456', [
        patchPart(ada, { donotbulkemail: true }, '1'),
        patchPart(bob, { donotbulkemail: true }, '2'),
      ]),
    ]);
    expect(answer.status).toBe(200);
    expect(answer.parts.map((p) => [p.contentId, p.status])).toEqual([
      ['1', 204],
      ['2', 204],
    ]);
    expect([(await contact(ada)).donotbulkemail, (await contact(bob)).donotbulkemail]).toEqual([true, true]);
  });

  it('rolls a change set back when one of its requests fails, answering that request’s error alone', async () => {
    const answer = await send(
      [
        changeSet('changeset_CCC789', [
          patchPart(ada, { donotbulkemail: true }, '1'),
          patchPart(missing, { donotbulkemail: true }, '2'),
        ]),
        patchPart(bob, { donotemail: true }),
      ],
      'odata.continue-on-error',
    );
    expect(answer.parts.map((p) => [p.contentId, p.status])).toEqual([
      ['2', 404],
      [undefined, 204],
    ]);
    expect((await contact(ada)).donotbulkemail).toBe(false);
    expect((await contact(bob)).donotemail).toBe(true);
  });

  it('refuses a GET inside a change set and more than 1,000 requests, before running anything', async () => {
    const withGet = await send([changeSet('changeset_D', [getPart(`/api/data/v9.2/contacts(${ada})`)])]);
    expect(withGet.status).toBe(400);
    const tooMany = await send(Array.from({ length: 1001 }, () => patchPart(ada, { donotbulkemail: true })));
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text).error.message).toMatch(/1000/);
    expect((await contact(ada)).donotbulkemail).toBe(false);
  });

  it('counts each request inside a batch against the service protection limit, and answers 429 inside the batch once it is used up', async () => {
    // 40 requests per window in this sandbox; the token and the reads above used none of the Web API's.
    const answer = await send(
      Array.from({ length: 45 }, () => patchPart(ada, { donotbulkemail: true })),
      'odata.continue-on-error',
    );
    const statuses = answer.parts.map((p) => p.status);
    expect(statuses.filter((s) => s === 204)).toHaveLength(40);
    expect(statuses.slice(40)).toEqual([429, 429, 429, 429, 429]);
    expect(JSON.parse(answer.parts[44]?.body ?? '{}').error.code).toBe('0x80072322');
  });

  it('answers 401 to a batch without a valid token', async () => {
    token = 'not-a-token';
    const answer = await send([patchPart(ada, { donotbulkemail: true })]);
    expect(answer.status).toBe(401);
  });
});
