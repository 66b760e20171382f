import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import type { ApiDependencies } from '../api/api-dependencies.js';
import { apiKeyVerifier, parseApiKeyEntry } from '../api/api-keys.js';
import { consolePages } from './console-pages.js';
import { type ConsoleSession, consoleSessionStore } from './console-sessions.js';
import { consoleViews, consoleViewsDir } from './console-views.js';

/** How long a console session lasts, whatever the activity: one working day. */
export const consoleSessionTtlMs = 8 * 60 * 60 * 1000;
export const sessionCookie = 'consent_hub_console';

export interface ConsoleContext {
  deps: ApiDependencies;
  render(reply: FastifyReply, view: string, data: Record<string, unknown>, status?: number): FastifyReply;
  sessionOf(request: FastifyRequest): ConsoleSession;
  /** The operator id every action of this session is recorded with: the API key's name. */
  operatorOf(request: FastifyRequest): string;
}

/**
 * The operator console at /console/: server-rendered pages (Eta templates) over the same hub-client and
 * ledger functions the API uses. Sign-in takes an API key; the session is an HttpOnly, Secure,
 * SameSite=Strict cookie holding a random token, kept in the ledger as a hash (console-sessions.ts), so it
 * survives a restart of the API; every form carries a CSRF token (@fastify/csrf-protection);
 * every page is `Cache-Control: no-store`, since most of them show a person's data.
 */
export function consolePlugin(deps: ApiDependencies) {
  const verify = apiKeyVerifier(deps.config.CONSENT_HUB_API_KEYS);
  const sessions = consoleSessionStore(deps.ledger, consoleSessionTtlMs);
  // A session outlives the process, not its key: once a key is removed from CONSENT_HUB_API_KEYS (or loses
  // `operator`), the sessions it opened end at the next restart that reads the new list.
  const operatorKeyIds = new Set(
    deps.config.CONSENT_HUB_API_KEYS.map(parseApiKeyEntry)
      .filter((entry) => entry.scopes.has('operator'))
      .map((entry) => entry.hash.slice(0, 12)),
  );
  const eta = consoleViews();
  const stylesheet = readFileSync(join(consoleViewsDir(), 'console.css'), 'utf8');
  // htmx refreshes a running request's status region in place (no reload wiping what an operator types);
  // served from the installed package, so the console loads no script from elsewhere.
  const htmxScript = readFileSync(
    createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'),
    'utf8',
  );
  const staticPaths = new Set(['/console/console.css', '/console/htmx.min.js']);
  // The CSRF secret cookie is signed with a key derived from the hub's secret, so it is stable across
  // restarts and never the secret itself.
  const cookieSecret = createHmac('sha256', deps.hub.subjectKeySecret).update('console-cookie').digest('hex');
  const cookieOptions = {
    path: '/console',
    httpOnly: true,
    secure: true,
    sameSite: 'strict' as const,
  };

  return async (app: FastifyInstance) => {
    await app.register(fastifyFormbody);
    await app.register(fastifyCookie, { secret: cookieSecret });
    await app.register(fastifyCsrf, {
      cookieKey: 'consent_hub_csrf',
      cookieOpts: { ...cookieOptions, signed: true },
    });

    const signedIn = new WeakMap<FastifyRequest, ConsoleSession>();
    const context: ConsoleContext = {
      deps,
      render(reply, view, data, status = 200) {
        const session = signedIn.get(reply.request);
        const html = eta.render(`./${view}`, {
          ...data,
          operator: session ? `console:${session.keyId}` : undefined,
          csrf: reply.generateCsrf(),
        });
        return reply.code(status).type('text/html; charset=utf-8').send(html);
      },
      sessionOf(request) {
        const session = signedIn.get(request);
        if (!session) throw new Error('not signed in');
        return session;
      },
      operatorOf: (request) => `console:${context.sessionOf(request).keyId}`,
    };

    app.addHook('onSend', async (request, reply, payload) => {
      if (!staticPaths.has(request.url)) {
        // Pages show people's data: no cache, no referrer, no framing, no script but htmx from this origin
        // (no inline script, no eval: htmx is configured without either).
        reply.header('cache-control', 'no-store');
        reply.header(
          'content-security-policy',
          "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        );
        reply.header('referrer-policy', 'no-referrer');
        reply.header('x-content-type-options', 'nosniff');
        reply.header('x-frame-options', 'DENY');
      }
      return payload;
    });

    // The console acts for operators (retry, close, new requests), so only keys with the `operator` scope
    // sign in. A key of this hub with only `intake` or `status` is refused with that reason: whoever typed it
    // holds it already, and "not valid" would send them to check a key that is right.
    const signInRefusal = (key: string) => {
      const caller = key ? verify(`Bearer ${key}`) : undefined;
      if (!caller) return { error: 'That API key is not valid for this hub. Check it and try again.' };
      if (!caller.scopes.has('operator'))
        return {
          error:
            'That API key belongs to this hub but lacks the operator scope the console needs. Ask for a key with the operator scope.',
        };
      return { caller };
    };

    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      if (path === '/console/sign-in' || staticPaths.has(path)) return;
      const found = await sessions.get(request.cookies[sessionCookie]);
      const session = found && operatorKeyIds.has(found.keyId) ? found : undefined;
      if (!session) {
        // A status refresh (htmx) after the session ended: the whole page goes to the sign-in form, rather
        // than the sign-in form being swapped into the status region.
        if (request.headers['hx-request'] === 'true')
          return reply.code(401).header('hx-redirect', '/console/sign-in').send();
        if (request.method === 'GET') return reply.redirect('/console/sign-in', 303);
        // A form sent after the session ended: nothing was done, and the operator is told so on the sign-in
        // page itself (a bare text answer left them with no layout and no way on).
        return context.render(
          reply,
          'sign-in',
          {
            title: 'Sign in',
            error:
              'Your session ended before this form was sent, so nothing was done. Sign in again, then send the form again.',
          },
          401,
        );
      }
      signedIn.set(request, session);
    });
    // Every form post is checked for its CSRF token once the body is read.
    app.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST') return;
      await new Promise<void>((resolve, reject) => {
        app.csrfProtection(request, reply, (error?: Error) => (error ? reject(error) : resolve()));
      });
    });
    app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      // A link or form value the console never makes (an edited address such as /console/new/x, a choice
      // not offered) fails its schema: the operator's input, so 400 with that said, not a 500 in the log.
      const refused = error instanceof ZodError;
      const status = refused ? 400 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (status === 500) deps.logger.error({ err: error }, 'console request failed');
      const message =
        error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET'
          ? 'The form had expired or did not come from this console. Go back, reload the page and try again.'
          : refused
            ? 'This link or form was changed from what the console offers, so nothing was done. Go back to the console and use its links and buttons.'
            : status < 500
              ? error.message
              : 'Something went wrong; nothing was changed by this page. Try again, or ask an engineer to look at the API log.';
      return context.render(
        reply,
        'error',
        { title: 'Something went wrong', message, signedIn: signedIn.has(request) },
        status,
      );
    });

    app.get('/console.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(stylesheet),
    );

    app.get('/htmx.min.js', async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'max-age=300')
        .header('x-content-type-options', 'nosniff')
        .send(htmxScript),
    );

    app.get('/sign-in', async (_request, reply) => context.render(reply, 'sign-in', { title: 'Sign in' }));
    app.post('/sign-in', async (request, reply) => {
      const key = String((request.body as Record<string, unknown> | undefined)?.apiKey ?? '').trim();
      const { caller, error } = signInRefusal(key);
      if (!caller) return context.render(reply, 'sign-in', { title: 'Sign in', error }, 401);
      const session = await sessions.create(caller.keyId);
      deps.logger.info({ operator: `console:${caller.keyId}` }, 'console sign-in');
      reply.setCookie(sessionCookie, session.id, { ...cookieOptions, maxAge: consoleSessionTtlMs / 1000 });
      return reply.redirect('/console/', 303);
    });
    app.post('/sign-out', async (request, reply) => {
      await sessions.destroy(request.cookies[sessionCookie]);
      reply.clearCookie(sessionCookie, cookieOptions);
      return reply.redirect('/console/sign-in', 303);
    });

    await consolePages(app, context);
  };
}
