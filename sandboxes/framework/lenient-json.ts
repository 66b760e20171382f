import type { FastifyInstance } from 'fastify';

/**
 * Replaces Fastify's JSON parser in one scope with the vendors' behaviour: an empty body with a JSON content
 * type is accepted (SDKs send that header on bodiless DELETEs and POSTs), and malformed JSON becomes the
 * vendor's own error, made by `invalid`.
 */
export function acceptVendorJson(scope: FastifyInstance, invalid: () => Error): void {
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(invalid(), undefined);
    }
  });
}
