/**
 * The opt-out wave done by a plain script: no durability, no ledger, no Temporal, only the minimal calls
 * at the vendors' limits (52 Dataverse requests and 10 Mailchimp connections at once). It is what the hub
 * is compared with: the cost of durability is the difference. Written from the vendors' documentation
 * with fetch, not with the hub's connectors, so the hub's inefficiencies do not leak into the yardstick.
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';

export interface PlainScriptTarget {
  dynamics: { url: string; tenantId: string; clientId: string; clientSecret: string };
  mailchimp: { apiUrl: string; apiKey: string; audienceIds: string[] };
}

export interface PlainScriptResult {
  seconds: number;
  calls: { dynamics: number; mailchimp: number };
  throttled: number;
}

const odataHeaders = {
  Accept: 'application/json',
  'OData-MaxVersion': '4.0',
  'OData-Version': '4.0',
};

/** `'` is doubled inside an OData string literal. */
const literal = (value: string) => `'${value.replaceAll("'", "''")}'`;

export async function runPlainScript(
  target: PlainScriptTarget,
  emails: string[],
  onProgress: (done: number) => void,
): Promise<PlainScriptResult> {
  const dataverse = pLimit(52);
  const mailchimp = pLimit(10);
  const calls = { dynamics: 0, mailchimp: 0 };
  let throttled = 0;

  const started = performance.now();
  const token = await fetch(`${target.dynamics.url}/${target.dynamics.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: target.dynamics.clientId,
      client_secret: target.dynamics.clientSecret,
      scope: `${target.dynamics.url}/.default`,
    }),
  }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
  calls.dynamics += 1;

  /** One request; a 429 (none expected at these limits) is counted and waited out. */
  async function send(vendor: keyof typeof calls, url: string, init: RequestInit): Promise<Response> {
    for (;;) {
      calls[vendor] += 1;
      const response = await fetch(url, init);
      if (response.status !== 429) {
        if (!response.ok && response.status !== 404) {
          throw new Error(`${vendor} answered ${response.status} to ${init.method ?? 'GET'}`);
        }
        return response;
      }
      throttled += 1;
      await response.arrayBuffer();
      const after = Number(response.headers.get('retry-after') ?? 1);
      await new Promise((resolve) => setTimeout(resolve, after * 1000));
    }
  }

  const api = `${target.dynamics.url}/api/data/v9.2`;
  const auth = { ...odataHeaders, Authorization: `Bearer ${token}` };
  async function dynamicsOptOut(email: string) {
    const filter = encodeURIComponent(
      ['emailaddress1', 'emailaddress2', 'emailaddress3']
        .map((c) => `${c} eq ${literal(email)}`)
        .join(' or '),
    );
    const found = await Promise.all(
      [
        ['contacts', 'contactid'],
        ['leads', 'leadid'],
      ].map(([set, id]) =>
        dataverse(async () => {
          const response = await send('dynamics', `${api}/${set}?$select=${id}&$filter=${filter}`, {
            headers: auth,
          });
          const rows = ((await response.json()) as { value: Record<string, string>[] }).value;
          return rows.map((row) => `${set}(${row[id as string]})`);
        }),
      ),
    );
    await Promise.all(
      found.flat().map((path) =>
        dataverse(async () => {
          const response = await send('dynamics', `${api}/${path}`, {
            method: 'PATCH',
            headers: { ...auth, 'Content-Type': 'application/json', 'If-Match': '*' },
            body: JSON.stringify({ donotbulkemail: true }),
          });
          await response.arrayBuffer();
        }),
      ),
    );
  }

  const basic = `Basic ${Buffer.from(`script:${target.mailchimp.apiKey}`).toString('base64')}`;
  async function mailchimpOptOut(email: string) {
    const hash = createHash('md5').update(email.toLowerCase()).digest('hex');
    await Promise.all(
      target.mailchimp.audienceIds.map((listId) =>
        mailchimp(async () => {
          const response = await send(
            'mailchimp',
            `${target.mailchimp.apiUrl}/lists/${listId}/members/${hash}`,
            {
              method: 'PATCH',
              headers: { Authorization: basic, 'Content-Type': 'application/json' },
              body: JSON.stringify({ status: 'unsubscribed' }),
            },
          );
          await response.arrayBuffer();
        }),
      ),
    );
  }

  let done = 0;
  await Promise.all(
    emails.map(async (email) => {
      await Promise.all([dynamicsOptOut(email), mailchimpOptOut(email)]);
      done += 1;
      onProgress(done);
    }),
  );
  return { seconds: (performance.now() - started) / 1000, calls, throttled };
}
