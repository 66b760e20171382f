import { z } from 'zod';
import {
  consentAcceptedSchema,
  consentEventBodySchema,
  erasureAcceptedSchema,
  erasureBodySchema,
  problemSchema,
  subjectStatusBodySchema,
} from './api-schemas.js';

/** JSON Schema 2020-12 (what OpenAPI 3.1 uses), generated from the same zod schemas the routes parse with. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output') {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
}

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
const json = (description: string, schema: object) => ({
  description,
  content: { 'application/json': { schema } },
});
const body = (ref: string) => ({
  required: true,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Same key and body: the first answer is replayed. Same key, other body: 409.',
  schema: { type: 'string', maxLength: 255 },
};
const errors = {
  '400': problem('Invalid input; `errors` names each field'),
  '401': problem('Missing or wrong API key; nothing was started'),
  '413': problem('Body larger than the limit'),
  '415': problem('Body is not application/json'),
};

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'consent-hub intake API',
      version: '1',
      description:
        'Starts erasures and records consent changes; each accepted request is a Temporal workflow before the 202 is sent.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ErasureRequest: jsonSchema(erasureBodySchema, 'input'),
        ErasureAccepted: jsonSchema(erasureAcceptedSchema, 'output'),
        ConsentEvent: jsonSchema(consentEventBodySchema, 'input'),
        ConsentAccepted: jsonSchema(consentAcceptedSchema, 'output'),
        SubjectStatusRequest: jsonSchema(subjectStatusBodySchema, 'input'),
        Problem: jsonSchema(problemSchema, 'output'),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      '/v1/erasures': {
        post: {
          summary: 'Start an erasure, or join the one running for the same person',
          parameters: [idempotencyKey],
          requestBody: body('ErasureRequest'),
          responses: {
            '202': json('Accepted', { $ref: '#/components/schemas/ErasureAccepted' }),
            '409': problem('Idempotency-Key reused with another body'),
            ...errors,
          },
        },
      },
      '/v1/erasures/{id}': {
        get: {
          summary: "An erasure's receipt, or its live status while it runs",
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
          ],
          responses: {
            '200': json('`{state:"completed", receipt}` or `{state:"open", status}`', { type: 'object' }),
            '404': problem('No erasure with this request id'),
            ...errors,
          },
        },
      },
      '/v1/consent-events': {
        post: {
          summary: 'Record a grant or withdrawal with its evidence, and carry it to every tool',
          parameters: [idempotencyKey],
          requestBody: body('ConsentEvent'),
          responses: {
            '202': json('Accepted', { $ref: '#/components/schemas/ConsentAccepted' }),
            '409': problem('Idempotency-Key reused with another body'),
            ...errors,
          },
        },
      },
      '/v1/subjects/status': {
        post: {
          summary: "A person's consent per purpose and per system (the email is in the body, not the URL)",
          requestBody: body('SubjectStatusRequest'),
          responses: { '200': json('The consent status', { type: 'object' }), ...errors },
        },
      },
      '/healthz': { get: { security: [], summary: 'Liveness', responses: { '200': json('ok', {}) } } },
      '/openapi.json': {
        get: { security: [], summary: 'This document', responses: { '200': json('OpenAPI 3.1', {}) } },
      },
    },
  };
}
