import type { ConsentApplicationOutcome, ConsentChangeSignal, ConsentTimings } from './consent.js';
import type { ConsentDecision, Purpose } from './purposes.js';
import type { SystemName } from './systems.js';

/** The most consent changes one batch takes (`POST /v1/consent-events/batch`, `consent-hub consent import`). */
export const consentBatchLimit = 1000;

/** A decision in force per purpose, as connectors take it (connectors/connector.ts's DecisionsInForce). */
export type BatchDecisions = Partial<Record<Purpose, { decision: ConsentDecision; hasEvidence: boolean }>>;

/** The systems the bulk path writes with the vendors' batch calls; Google's deletions stay per person. */
export const bulkSystems = ['dynamics', 'mailchimp'] as const satisfies readonly SystemName[];
export type BulkSystem = (typeof bulkSystems)[number];

/**
 * One change of a batch as the batch workflow receives it. It is one workflow or activity argument of its
 * own, named by its `subjectKey` and holding the `email`, so the codec seals it with that person's data key
 * (privacy/subject-codec.ts): erasing one person shreds their part of the batch's history, not the rest.
 */
export interface ConsentBatchItem {
  subjectKey: string;
  email: string;
  change: ConsentChangeSignal;
}

/**
 * The most bytes (UTF-8 JSON) of changes one batch carries. The batch workflow takes its changes as its
 * input, and Temporal refuses a start whose payloads pass its blob limit (`limit.blobSize.error`, 2 MiB by
 * default: "Blob data size exceeds limit"), so 1,000 changes with long evidence (a 1,000-character note, a
 * 500-character requestRef) do not fit in one; 1.5 MiB leaves room for the codec's sealing and the header.
 */
export const consentBatchByteLimit = 1.5 * 1024 * 1024;

/** A batch change's size as the limit counts it: its JSON in UTF-8 bytes. */
export const consentBatchBytes = (value: unknown): number =>
  new TextEncoder().encode(JSON.stringify(value)).length;

/**
 * What a change adds to a batch beyond the request's own JSON: its subject key, event id and recording
 * time, and the item's field names (consentBatchParts counts it for each request).
 */
const batchItemOverheadBytes = 256;

/**
 * Splits requests into batches of at most `consentBatchLimit` changes and `consentBatchByteLimit` bytes
 * (each request's JSON plus what the hub adds to it), in order; a caller that sends many (the CLI's import)
 * sends one batch per part.
 */
export function consentBatchParts<T>(requests: T[], bytesOf: (request: T) => number): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const request of requests) {
    const size = bytesOf(request) + batchItemOverheadBytes;
    if (part.length > 0 && (part.length >= consentBatchLimit || bytes + size > consentBatchByteLimit)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(request);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

export interface ConsentBatchHeader {
  batchId: string;
  timings: ConsentTimings;
  /** People per vendor activity (each activity reads them and writes them in the vendor's batches). */
  chunkSize?: number;
}

/** The workflow id of a batch: derived from the batch id only (no person's data). */
export const consentBatchWorkflowId = (batchId: string) => `consent-batch-${batchId}`;

/**
 * Where the intake sent one person: `bulk` (their events are in the ledger and their state goes out in the
 * vendors' batches), `person` (handed to their own consent workflow with their changes, and why) or `settled`
 * (recorded as evidence; nothing in force moved, so nothing is written).
 */
export type ConsentBatchRoute =
  | {
      subjectKey: string;
      route: 'bulk';
      eventIds: string[];
      decisions: BatchDecisions;
      changed: Purpose[];
      /** The event in force per purpose, whose outcomes the systems' answers are recorded under. */
      inForce: Partial<Record<Purpose, string>>;
    }
  | { subjectKey: string; route: 'person'; eventIds: string[]; reason: string }
  | { subjectKey: string; route: 'settled'; eventIds: string[]; reason: string };

/** A person's state for one system's bulk write (its own argument, sealed with the person's key). */
export interface BulkPersonState {
  subjectKey: string;
  email: string;
  decisions: BatchDecisions;
  changed: Purpose[];
  inForce: Partial<Record<Purpose, string>>;
}

/** What one system's bulk write did for one person: recorded in the ledger, or handed to their workflow. */
export type BulkPersonOutcome =
  | { subjectKey: string; outcome: ConsentApplicationOutcome }
  | { subjectKey: string; handOff: string; created?: boolean };

/** A batch's result: per person where their changes went and what each system answered. No personal data. */
export interface ConsentBatchResult {
  batchId: string;
  people: number;
  changes: number;
  /** Per person, by subject key. */
  results: {
    subjectKey: string;
    eventIds: string[];
    route: 'bulk' | 'person' | 'settled';
    /** Why the person went to the per-person path, or was settled without a write. */
    reason?: string;
    /** Per system, the outcome recorded by the bulk path. */
    systems?: Partial<Record<BulkSystem, ConsentApplicationOutcome>>;
    /** Systems whose bulk write did not serve the person: their workflow writes them again, and why. */
    handedOff?: Partial<Record<BulkSystem, string>>;
  }[];
  /** Members Mailchimp's batch created (deleted between the read and the write): reported, never hidden. */
  createdInMailchimp: string[];
}
