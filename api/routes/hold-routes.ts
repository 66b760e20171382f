import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  holdReasonCodes,
  holdRequestSchema,
  releaseReasonCodes,
  releaseRequestSchema,
} from '../../domain/hold.js';
import { placeHold, releaseHold } from '../../hub-client/holds.js';
import { NotOnHold } from '../../hub-client/request-errors.js';
import type { ApiDependencies } from '../api-dependencies.js';
import { ApiProblem, invalidBody } from '../problem.js';

/** The operator is the API key that calls; the body names the person and the reason code. */
export const holdBodySchema = holdRequestSchema.omit({ placedBy: true }).strict();
export const releaseBodySchema = releaseRequestSchema.omit({ releasedBy: true }).strict();

const legalHoldSchema = z.object({
  subjectKey: z.string(),
  reason: z.enum(holdReasonCodes),
  placedBy: z.string(),
  placedAt: z.string(),
  releasedAt: z.string().optional(),
  releasedBy: z.string().optional(),
  releaseReason: z.enum(releaseReasonCodes).optional(),
});
const requestedUnderSchema = z
  .object({
    subjectKey: z.string().describe('the subject key of the address the request named'),
    rekeys: z.array(
      z.object({ from: z.string(), to: z.string(), rectificationRequestId: z.string(), at: z.string() }),
    ),
    notFollowed: z
      .object({ from: z.string(), to: z.string(), rectificationRequestId: z.string(), at: z.string() })
      .optional()
      .describe(
        'a re-key not followed: its old key has had records of its own since, so the hold acts on it',
      ),
  })
  .describe(
    'the address named was re-keyed by rectifications: the hold acts on the key the person has now (subjectKey)',
  );
export const holdPlacedSchema = z.object({
  subjectKey: z.string(),
  placed: z.boolean().describe('false: the person was already on hold, and that hold is kept as it was'),
  hold: legalHoldSchema,
  erasureRunning: z
    .boolean()
    .describe(
      'an erasure of the person was already running: it stops deleting, restricts every system it had not erased yet, and erases them once the hold is released',
    ),
  erasureSignalled: z.boolean().describe('the running erasure was told of the hold'),
  requestedUnder: requestedUnderSchema.optional(),
});
export const holdReleasedSchema = z.object({
  subjectKey: z.string(),
  hold: legalHoldSchema,
  erasureSignalled: z.boolean().describe('the person’s waiting erasure was told to go on and delete'),
  requestedUnder: requestedUnderSchema.optional(),
});

/**
 * `POST /v1/holds` and `POST /v1/holds/release` (operator scope): the email travels in the body, never in
 * the URL, and the answer names only the subject key.
 */
export function holdRoutes(deps: ApiDependencies, operatorOf: (request: unknown) => string) {
  return async (api: FastifyInstance) => {
    api.post('/holds', async (request, reply) => {
      const parsed = holdBodySchema.safeParse(request.body);
      if (!parsed.success) throw invalidBody(parsed.error, 'body');
      const result = await placeHold(deps.hub, deps.ledger, {
        ...parsed.data,
        placedBy: operatorOf(request),
      });
      return reply.code(result.placed ? 201 : 200).send(holdPlacedSchema.parse(result));
    });
    api.post('/holds/release', async (request) => {
      const parsed = releaseBodySchema.safeParse(request.body);
      if (!parsed.success) throw invalidBody(parsed.error, 'body');
      try {
        const result = await releaseHold(deps.hub, deps.ledger, {
          ...parsed.data,
          releasedBy: operatorOf(request),
        });
        return holdReleasedSchema.parse(result);
      } catch (error) {
        if (error instanceof NotOnHold) throw new ApiProblem(409, 'Conflict', error.message);
        throw error;
      }
    });
  };
}
