import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerRequestedBySchema, rectificationRequestSchema } from '../../domain/rectification.js';
import { requestRectification } from '../../hub-client/rectifications.js';
import { RectificationRefused } from '../../hub-client/request-errors.js';
import type { ApiDependencies } from '../api-dependencies.js';
import { ApiProblem, invalidBody } from '../problem.js';

/** The API fills who asked (the key) and when (now); `receivedAt` may be given for a letter entered later. */
export const rectificationBodySchema = rectificationRequestSchema
  .extend({
    requestedBy: callerRequestedBySchema.optional(),
    requestedAt: rectificationRequestSchema.shape.requestedAt.optional(),
  })
  .strict();

export const rectificationAcceptedSchema = z.object({
  requestId: z.uuid(),
  subjectKey: z.string(),
  newSubjectKey: z.string().optional().describe('The person’s key under the new address (an email change)'),
  receivedAt: z.string(),
  dueAt: z.string(),
});

/** `POST /v1/rectifications` (intake scope): the addresses travel in the body, never in the URL. */
export function rectificationRoutes(deps: ApiDependencies, callerIdOf: (request: unknown) => string) {
  return async (api: FastifyInstance) => {
    api.post('/rectifications', async (request, reply) => {
      const parsed = rectificationBodySchema.safeParse(request.body);
      if (!parsed.success) throw invalidBody(parsed.error, 'body');
      const started = await requestRectification(
        deps.hub,
        {
          ...parsed.data,
          requestedBy: parsed.data.requestedBy ?? callerIdOf(request),
          requestedAt: parsed.data.requestedAt ?? new Date().toISOString(),
        },
        { ledger: deps.ledger },
      ).catch((error: unknown) => {
        if (error instanceof RectificationRefused) throw new ApiProblem(409, 'Conflict', error.message);
        throw error;
      });
      const { workflowId: _id, ...body } = started;
      return reply.code(202).send(rectificationAcceptedSchema.parse(body));
    });
  };
}
