import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SandboxClient } from '../../../sandboxes/framework/sandbox-client.js';
import type { SandboxDefinition, SandboxStore } from '../../../sandboxes/framework/sandbox-definition.js';
import type { RunningSandbox } from '../../../sandboxes/framework/sandbox-server.js';
import { startTestSandbox } from '../../support/sandboxes.js';

/** A made-up vendor with one collection, enough to exercise the framework's controls. */
class NotesStore implements SandboxStore<{ notes: string[] }> {
  notes: string[] = [];
  inFlight = 0;
  snapshot() {
    return { notes: this.notes };
  }
  reset() {
    this.notes = [];
  }
  seed(data: { notes: string[] }) {
    this.notes.push(...data.notes);
  }
}

const notesVendor: SandboxDefinition<NotesStore, { notes: string[] }, { maxConcurrent: number }> = {
  vendor: 'notes',
  seedSchema: z.object({ notes: z.array(z.string()) }),
  createStore: () => new NotesStore(),
  errorReply: (status, message) => ({
    contentType: 'application/json',
    body: { vendorError: { status, message } },
  }),
  admit(_request, store) {
    if (store.inFlight >= 2) {
      return {
        rejected: { status: 429, reply: { contentType: 'application/json', body: { vendorError: 'busy' } } },
      };
    }
    store.inFlight++;
    return { release: () => store.inFlight-- };
  },
  routes(app, { store }) {
    app.get('/notes', async () => ({ notes: store.notes }));
    app.post('/notes', async (request) => {
      store.notes.push(String((request.body as { text: string }).text));
      return { count: store.notes.length };
    });
  },
};

describe('sandbox server framework', () => {
  let sandbox: RunningSandbox<NotesStore>;
  let control: SandboxClient;

  beforeAll(async () => {
    sandbox = await startTestSandbox(notesVendor, { maxConcurrent: 2 });
    control = new SandboxClient(sandbox.url);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => control.reset());

  it('serves vendor routes over HTTPS that the local CA makes trusted', async () => {
    expect(sandbox.url).toMatch(/^https:\/\/localhost:\d+$/);
    const response = await fetch(`${sandbox.url}/notes`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ notes: [] });
  });

  it('loads seed data and shows it in the state', async () => {
    await control.seed({ notes: ['a', 'b'] });
    expect(await control.state()).toEqual({ notes: ['a', 'b'] });
  });

  it('rejects a seed that does not match the vendor schema', async () => {
    await expect(control.seed({ notes: [1] })).rejects.toThrow(/answered 400/);
  });

  it('logs each vendor request with method, path without query, status and time', async () => {
    await fetch(`${sandbox.url}/notes?secret=ada@example.com`);
    await fetch(`${sandbox.url}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x' }),
    });
    const log = await control.requests();
    expect(log.map((e) => [e.method, e.path, e.status])).toEqual([
      ['GET', '/notes', 200],
      ['POST', '/notes', 200],
    ]);
    expect(JSON.stringify(log)).not.toContain('ada@example.com');
    expect(Date.parse(log[0]?.at ?? '')).not.toBeNaN();
  });

  it('fails exactly the next N matching requests with the vendor error body and Retry-After', async () => {
    await control.fail({ method: 'get', path: '^/notes$', status: 503, count: 2, retryAfter: 7 });
    const first = await fetch(`${sandbox.url}/notes`);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(await first.json()).toEqual({ vendorError: { status: 503, message: 'Injected by the sandbox' } });
    const post = await fetch(`${sandbox.url}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'y' }),
    });
    expect(post.status).toBe(200);
    expect((await fetch(`${sandbox.url}/notes`)).status).toBe(503);
    expect((await fetch(`${sandbox.url}/notes`)).status).toBe(200);
  });

  it('fails only writes whose body matches a fault with a body pattern, and lets other writes through', async () => {
    await control.fail({ method: 'post', path: '^/notes$', body: '"text":"held"', status: 503, count: 2 });
    const post = (text: string) =>
      fetch(`${sandbox.url}/notes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
    expect((await post('held')).status).toBe(503);
    expect((await post('through')).status).toBe(200);
    expect((await post('held')).status).toBe(503);
    expect((await post('held')).status).toBe(200);
    const notes = (await control.state<{ notes: string[] }>()).notes;
    expect(notes.filter((n) => n === 'through' || n === 'held')).toEqual(['through', 'held']);
  });

  it('drops connections during an outage and serves again when it ends', async () => {
    await control.outage(true);
    await expect(fetch(`${sandbox.url}/notes`)).rejects.toThrow();
    await control.outage(false);
    expect((await fetch(`${sandbox.url}/notes`)).status).toBe(200);
  });

  it('adds latency to vendor requests', async () => {
    await control.setLatency(300);
    const started = performance.now();
    await fetch(`${sandbox.url}/notes`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('applies the vendor admission limit to concurrent requests and releases slots afterwards', async () => {
    await control.setLatency(300);
    const statuses = await Promise.all(
      [1, 2, 3].map(() => fetch(`${sandbox.url}/notes`).then((r) => r.status)),
    );
    expect(statuses.sort()).toEqual([200, 200, 429]);
    expect(sandbox.store.inFlight).toBe(0);
  });

  it('forgets records, faults, latency and the log on reset', async () => {
    await control.seed({ notes: ['a'] });
    await control.fail({ path: '.*', status: 500, count: 5 });
    await control.setLatency(1000);
    await control.reset();
    const started = performance.now();
    expect((await fetch(`${sandbox.url}/notes`)).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(900);
    expect(await control.state()).toEqual({ notes: [] });
  });
});
