import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsentStateRequest, SubjectIdentifiers } from '../../../connectors/connector.js';
import { RetryableVendorError } from '../../../connectors/connector-errors.js';
import { mailchimpConfigSchema } from '../../../connectors/mailchimp/config.js';
import { createMailchimpConnector } from '../../../connectors/mailchimp/connector.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { mailchimpSandbox } from '../../../sandboxes/mailchimp/sandbox.js';
import type { MailchimpSandboxStore } from '../../../sandboxes/mailchimp/store.js';
import { startTestSandbox } from '../../support/sandboxes.js';
import { capturingLogger, memberStatus, newAudience, raw, testApiKey } from './mailchimp-test-kit.js';

const subject = (email: string): SubjectIdentifiers => ({ email, gaClientIds: [], gaUserIds: [] });
const optOut: ConsentStateRequest = {
  decisions: { marketing_email: { decision: 'withdrawn', hasEvidence: false } },
  changed: ['marketing_email'],
};

/**
 * A TCP relay in front of the (TLS) sandbox standing in for a front end that drops kept-alive connections:
 * once armed, the next bytes a client sends on a connection opened before arming (a kept connection being
 * reused) are answered with a reset, as by a server that closed the idle socket just as the client reused
 * it, and never forwarded. Connections opened after arming are relayed as they are.
 */
async function droppingRelay(target: URL) {
  let kept = new Set<net.Socket>();
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    const upstream = net.connect(Number(target.port), target.hostname);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.pipe(client);
    client.on('data', (chunk) => {
      if (kept.has(client)) {
        kept = new Set();
        upstream.destroy();
        client.resetAndDestroy();
        return;
      }
      upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = new URL(target.href);
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.origin,
    /** Answers how many kept connections the next reuse may hit. */
    arm: () => {
      kept = new Set(open);
      return kept.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Issue 21 (d4cc0e6): Mailchimp calls reuse their connections, and a front end may close an idle kept
 * connection just as a call reuses it. That call fails with ECONNRESET; the connector's one classification
 * place must read it as retryable (never "not a member", never "already done"), and the activity's retry
 * must then apply the change on a fresh connection.
 */
describe('Mailchimp connector over a kept connection that the server drops', () => {
  let sandbox: RunningSandbox<MailchimpSandboxStore>;
  let relay: Awaited<ReturnType<typeof droppingRelay>>;
  const logs = capturingLogger();

  beforeAll(async () => {
    sandbox = await startTestSandbox(mailchimpSandbox, { apiKeys: [testApiKey], dc: 'us21' });
    relay = await droppingRelay(new URL(sandbox.url));
  });
  afterAll(async () => {
    await relay.close();
    await sandbox.close();
  });

  it('fails the call on the dropped connection as retryable, and its retry applies the opt-out', async () => {
    const listId = ((await raw(sandbox.url, 'POST', '/lists', newAudience('News'))).json as { id: string })
      .id;
    for (const email of ['first@example.com', 'second@example.com'])
      await raw(sandbox.url, 'POST', `/lists/${listId}/members`, {
        email_address: email,
        status: 'subscribed',
      });
    const connector = createMailchimpConnector(
      mailchimpConfigSchema.parse({
        MAILCHIMP_API_KEY: testApiKey,
        MAILCHIMP_API_URL: `${relay.url}/3.0`,
        MAILCHIMP_AUDIENCE_IDS: listId,
      }),
      { logger: logs.logger },
    );
    // The first opt-out opens the connection the next one reuses.
    expect((await connector.applyConsentState?.(subject('first@example.com'), optOut))?.outcome).toBe(
      'applied',
    );
    expect(relay.arm()).toBe(1);
    const dropped = await Promise.resolve(
      connector.applyConsentState?.(subject('second@example.com'), optOut),
    ).then(
      (result) => result,
      (error: unknown) => error,
    );
    expect(dropped).toBeInstanceOf(RetryableVendorError);
    expect((dropped as RetryableVendorError).message).toMatch(/ECONNRESET|could not be reached/);
    expect(await memberStatus(sandbox.url, listId, 'second@example.com')).toBe('subscribed');
    // The activity's retry: a fresh connection, and the member is unsubscribed.
    expect((await connector.applyConsentState?.(subject('second@example.com'), optOut))?.outcome).toBe(
      'applied',
    );
    expect(await memberStatus(sandbox.url, listId, 'second@example.com')).toBe('unsubscribed');
  });
});
