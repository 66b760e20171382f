import cors from '@fastify/cors';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../logging/logger.js';
import { personalSubjectOf } from '../privacy/subject-codec.js';
import { ErasedSubjectKey } from '../privacy/subject-data-keys.js';
import { apiKeyVerifier } from './api-keys.js';
import { ApiProblem, sendProblem } from './problem.js';

/** What a payload whose subject was erased decodes to in the UI: a clear placeholder, not an error. */
export const erasedSubjectPlaceholder = 'erased subject';

/** The Temporal codec server's wire format: payloads with base64 metadata values and data. */
const codecBodySchema = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), z.string()).optional(),
      data: z.string().optional(),
    }),
  ),
});
type WirePayload = z.infer<typeof codecBodySchema>['payloads'][number];

const fromWire = (payload: WirePayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
  ),
  data: Buffer.from(payload.data ?? '', 'base64'),
});
const toWire = (payload: Payload): WirePayload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value ?? new Uint8Array()).toString('base64'),
    ]),
  ),
  data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
});
const placeholder = (): Payload => ({
  metadata: { [METADATA_ENCODING_KEY]: Buffer.from('json/plain') },
  data: Buffer.from(JSON.stringify(erasedSubjectPlaceholder)),
});

export interface CodecServerOptions {
  /** The hub's codec (privacy/data-converter.ts with the ledger's subject keys). */
  codec: PayloadCodec;
  /** SHA-256 hex hashes of the keys it accepts (the API's keys). */
  keyHashes: readonly string[];
  /** Origins allowed by CORS: the Temporal UI's, such as http://localhost:8233. */
  corsOrigins: readonly string[];
  logger: Logger;
  /**
   * Whether the subject was erased (the ledger holds their tombstone): `/encode` refuses their personal
   * payloads, since sealing one would create a fresh, live data key for a person the hub has shredded.
   */
  isErased?: (subjectKey: string) => Promise<boolean>;
}

/**
 * The codec server the Temporal UI and `temporal workflow show --codec-endpoint` call: `POST /encode` and
 * `POST /decode` with `{payloads: [...]}` (base64 metadata and data), as Temporal documents it. A caller
 * presents an API key as `Authorization: Bearer <key>` (the CLI's `--codec-auth`), or, for the UI (which
 * sends no header of its own), in the endpoint's path: `<base>/ui/<key>/decode`. A payload of an erased
 * subject decodes to the placeholder "erased subject"; one to encode for an erased subject is refused with
 * a 409 problem (`isErased`).
 */
export async function createCodecServer(options: CodecServerOptions): Promise<FastifyInstance> {
  const verify = apiKeyVerifier(options.keyHashes);
  const app = Fastify({ logger: false, disableRequestLogging: true, bodyLimit: 4 * 1024 * 1024 });
  await app.register(cors, {
    origin: [...options.corsOrigins],
    methods: ['POST'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Namespace'],
    credentials: true,
  });

  const authorised = (request: FastifyRequest) => {
    const params = request.params as { key?: string };
    const header = params.key ? `Bearer ${params.key}` : request.headers.authorization;
    // Decoding shows people's data: only operator keys.
    return verify(header)?.scopes.has('operator') === true;
  };

  const decodeOne = async (payload: Payload): Promise<Payload> => {
    try {
      return (await options.codec.decode([payload]))[0] as Payload;
    } catch (error) {
      if (error instanceof ErasedSubjectKey) return placeholder();
      throw error;
    }
  };

  const handle = (operation: 'encode' | 'decode') => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!authorised(request)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'an API key is required' });
    }
    const parsed = codecBodySchema.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: 'expected {"payloads": [...]}' });
    const payloads = parsed.data.payloads.map(fromWire);
    if (operation === 'encode' && options.isErased) {
      for (const payload of payloads) {
        const subjectKey = personalSubjectOf(payload);
        if (subjectKey && (await options.isErased(subjectKey))) {
          return sendProblem(
            reply,
            new ApiProblem(
              409,
              'Subject erased',
              `Subject ${subjectKey} was erased: the codec server seals no payload of theirs, as that would create a new data key for them. Nothing was encoded.`,
            ),
          );
        }
      }
    }
    const result =
      operation === 'encode'
        ? await options.codec.encode(payloads)
        : await Promise.all(payloads.map(decodeOne));
    options.logger.info({ operation, payloads: payloads.length }, 'codec request');
    return { payloads: result.map(toWire) };
  };

  for (const prefix of ['', '/ui/:key']) {
    app.post(`${prefix}/encode`, handle('encode'));
    app.post(`${prefix}/decode`, handle('decode'));
  }
  return app;
}
