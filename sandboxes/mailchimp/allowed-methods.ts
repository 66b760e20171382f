import type { FastifyInstance } from 'fastify';

/**
 * The methods each route path of a scope answers, so that a known path asked with another method gets
 * Mailchimp's 405 "Method Not Allowed" (with an `Allow` header) instead of a 404, while an unknown path stays
 * 404. Source: https://mailchimp.com/developer/marketing/docs/errors/ (the 405 example: "The requested method
 * and resource are not compatible. See the Allow header for this resource's available methods.").
 *
 * Call before registering the routes: Fastify reports each route of the scope to its `onRoute` hook.
 */
export function trackAllowedMethods(scope: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  scope.addHook('onRoute', (route) => {
    const source = route.url
      .split('/')
      .map((segment) =>
        segment.startsWith(':')
          ? '[^/]+'
          : segment === '*'
            ? '.*'
            : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    routes.push({
      pattern: new RegExp(`^${source}/?$`),
      methods: Array.isArray(route.method) ? route.method : [route.method],
    });
  });
  return (path) => [
    ...new Set(routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods)),
  ];
}
