import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/**
 * What a vendor adds to the shared sandbox server: its in-memory store, its routes, and the shape of its
 * error bodies. Everything else (TLS, the /__sandbox/ controls, faults, latency, outage, the request log)
 * is the framework's, so every sandbox is inspected and broken the same way.
 */
export interface SandboxDefinition<Store extends SandboxStore<Seed>, Seed, Options = unknown> {
  vendor: string;
  /** Validates POST /__sandbox/seed bodies: vendor-shaped records. */
  seedSchema: z.ZodType<Seed>;
  createStore(options: Options): Store;
  /** The vendor's error body for a given status; used for injected faults and framework errors. */
  errorReply(status: number, message: string): VendorErrorReply;
  /**
   * Service-protection limits that apply before any route runs (concurrent requests, requests per window).
   * Return a rejection to answer at once, or a release function that runs when the response is finished.
   */
  admit?(request: FastifyRequest, store: Store): Admission;
  /**
   * A request the sandbox runs itself on behalf of another one (a `$batch`'s parts): it meets the routes,
   * faults and limits, but not the network latency, which the outer request has already paid.
   */
  isInnerRequest?(request: FastifyRequest): boolean;
  routes(app: FastifyInstance, context: SandboxContext<Store>): void;
}

export interface SandboxStore<Seed> {
  /** The records held, as JSON, for GET /__sandbox/state. */
  snapshot(): unknown;
  /** Forgets everything, including limits' counters. */
  reset(): void;
  /** Loads vendor-shaped records, added to what is there. */
  seed(data: Seed): void;
}

export interface VendorErrorReply {
  contentType: string;
  body: unknown;
  headers?: Record<string, string>;
}

export type Admission =
  | { rejected: { status: number; reply: VendorErrorReply } }
  | { rejected?: undefined; release?: () => void };

export interface SandboxContext<Store> {
  store: Store;
  /** The sandbox's own base URL (`https://localhost:<port>`), known once it listens. */
  baseUrl(): string;
}
