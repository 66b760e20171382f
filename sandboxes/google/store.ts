import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SandboxStore } from '../framework/sandbox-definition.js';
import {
  propertyNumber as normalisePropertyId,
  pacificDay,
  propertyNumberSchema as propertyIdSchema,
} from './google-facts.js';

export interface GoogleSandboxOptions {
  /** Service accounts the token endpoint knows: client_email → public key (PEM) that verifies its JWTs. */
  serviceAccounts: Record<string, string>;
  /** GA4 properties that exist (`properties/N` or bare N); more can be seeded. */
  propertyIds?: string[];
  /** Legacy Universal Analytics web properties (`UA-XXXXX-YY`) and Firebase projects that exist. */
  webPropertyIds?: string[];
  firebaseProjectIds?: string[];
  /** User Deletion API requests a second per property (Google: 1.5). */
  requestsPerSecond?: number;
  /** User Deletion API requests a day per property (Google: 500), counted per Pacific-time day. */
  dailyQuotaPerProperty?: number;
  /** User Deletion API requests a day per Cloud project (Google: 500). */
  dailyQuotaPerProject?: number;
  /** Access token lifetime, seconds (Google: 3599). */
  tokenLifetimeSeconds?: number;
}

export type DeletionApi = 'userDeletion' | 'admin';
export type IdentifierType = 'CLIENT_ID' | 'USER_ID' | 'APP_INSTANCE_ID' | 'USER_PROVIDED_DATA';

/**
 * One identifier Google was asked to delete, in one property. `userProvidedData` (an email or phone) is
 * never kept: its SHA-256 stands in for it, so the state and a demo screen show no address.
 */
export interface DeletionRecord {
  propertyId: string;
  api: DeletionApi;
  type: IdentifierType;
  /** The client/user/app-instance id, or `sha256:<hex>` of the user-provided data. */
  identifier: string;
  deletionRequestTime: string;
  /** How many times it was submitted (upserts repeat harmlessly). */
  submissions: number;
  /** When each submission arrived (ISO 8601), for checking a client's pacing. */
  receivedAt: string[];
}

export interface AccessTokenGrant {
  clientEmail: string;
  project: string;
  scopes: Set<string>;
  expiresAt: number;
}

/**
 * The Admin API's RetentionDuration values
 * (developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/DataRetentionSettings).
 */
export const retentionDurations = [
  'TWO_MONTHS',
  'FOURTEEN_MONTHS',
  'TWENTY_SIX_MONTHS',
  'THIRTY_EIGHT_MONTHS',
  'FIFTY_MONTHS',
] as const;
export type RetentionDuration = (typeof retentionDurations)[number];
export interface DataRetentionSettings {
  eventDataRetention: RetentionDuration;
  userDataRetention: RetentionDuration;
  resetUserDataOnNewActivity: boolean;
}

export const googleSeedSchema = z.object({
  /** GA4 properties to add to the known ones. */
  properties: z.array(propertyIdSchema).default([]),
  /** Legacy Universal Analytics web properties (`UA-XXXXX-YY`) to add. */
  webProperties: z.array(z.string().regex(/^UA-\d+-\d+$/i)).default([]),
  /** Firebase projects to add (the User Deletion API's deprecated `firebaseProjectId`). */
  firebaseProjects: z.array(z.string().min(1)).default([]),
  /**
   * A property's data retention (Admin API DataRetentionSettings); a property without one answers GA4's
   * defaults, two months and reset on new activity.
   */
  dataRetention: z
    .record(
      z.string(),
      z.object({
        eventDataRetention: z.enum(retentionDurations),
        userDataRetention: z.enum(retentionDurations).optional(),
        resetUserDataOnNewActivity: z.boolean().default(true),
      }),
    )
    .default({}),
  /** Requests already used today, to start near a daily limit. */
  quotaUsed: z
    .object({
      properties: z.record(z.string(), z.number().int().min(0)).default({}),
      projects: z.record(z.string(), z.number().int().min(0)).default({}),
    })
    .optional(),
});
export type GoogleSeed = z.input<typeof googleSeedSchema>;
export type GoogleSeedData = z.output<typeof googleSeedSchema>;

/** `name@my-project.iam.gserviceaccount.com` belongs to Cloud project `my-project`, as at Google. */
export function projectOfServiceAccount(clientEmail: string): string {
  const match = /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(clientEmail);
  return match?.[1] ?? clientEmail.split('@')[1] ?? 'unknown-project';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A token bucket per property: holds up to `rate` tokens (at least 1), refilled at `rate` a second. */
interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class GoogleSandboxStore implements SandboxStore<GoogleSeedData> {
  readonly requestsPerSecond: number;
  readonly dailyQuotaPerProperty: number;
  readonly dailyQuotaPerProject: number;
  readonly tokenLifetimeSeconds: number;
  private readonly optionProperties: string[];
  properties = new Set<string>();
  /** Per property number, its data retention settings (GA4's defaults when absent). */
  dataRetention = new Map<string, DataRetentionSettings>();
  /** propertyId → `${type}:${identifier}` → record. */
  deletions = new Map<string, Map<string, DeletionRecord>>();
  tokens = new Map<string, AccessTokenGrant>();
  /** `${pacificDay}|property|${id}` and `${pacificDay}|project|${id}` → requests counted. */
  private usage = new Map<string, number>();
  private buckets = new Map<string, Bucket>();
  /** Refusals by reason (rate, daily quota), so a test can prove a burst got none. */
  rejections: Record<string, number> = {};

  constructor(readonly options: GoogleSandboxOptions) {
    this.requestsPerSecond = options.requestsPerSecond ?? 1.5;
    this.dailyQuotaPerProperty = options.dailyQuotaPerProperty ?? 500;
    this.dailyQuotaPerProject = options.dailyQuotaPerProject ?? 500;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
    this.optionProperties = [
      ...(options.propertyIds ?? []).map((raw) => {
        const id = normalisePropertyId(raw);
        if (!id) throw new Error(`google sandbox: "${raw}" is not a GA4 property id`);
        return id;
      }),
      ...(options.webPropertyIds ?? []),
      ...(options.firebaseProjectIds ?? []),
    ];
    this.reset();
  }

  reset(): void {
    this.properties = new Set(this.optionProperties);
    this.dataRetention = new Map();
    this.deletions = new Map();
    this.tokens = new Map();
    this.usage = new Map();
    this.buckets = new Map();
    this.rejections = {};
    this.revokedAccounts.clear();
  }

  seed(data: GoogleSeedData): void {
    for (const id of [...data.properties, ...data.webProperties, ...data.firebaseProjects]) {
      this.properties.add(id);
    }
    for (const [raw, settings] of Object.entries(data.dataRetention)) {
      const id = normalisePropertyId(raw) ?? raw;
      this.dataRetention.set(id, {
        ...settings,
        userDataRetention: settings.userDataRetention ?? settings.eventDataRetention,
      });
    }
    const day = pacificDay(Date.now());
    for (const [raw, used] of Object.entries(data.quotaUsed?.properties ?? {})) {
      const id = normalisePropertyId(raw) ?? raw;
      this.usage.set(`${day}|property|${id}`, used);
    }
    for (const [project, used] of Object.entries(data.quotaUsed?.projects ?? {})) {
      this.usage.set(`${day}|project|${project}`, used);
    }
  }

  /** A property's data retention: what was set, or GA4's defaults (two months, reset on new activity). */
  retentionOf(propertyId: string): DataRetentionSettings {
    return (
      this.dataRetention?.get(propertyId) ?? {
        eventDataRetention: 'TWO_MONTHS',
        userDataRetention: 'TWO_MONTHS',
        resetUserDataOnNewActivity: true,
      }
    );
  }

  /** Service accounts deleted since the sandbox started (or its last reset). */
  readonly revokedAccounts = new Set<string>();

  /**
   * What an administrator's deleting the service account does: its access tokens stop working, and its
   * assertions are refused at the token endpoint as an unknown account (invalid_grant, "account not found").
   */
  revokeServiceAccount(clientEmail: string): void {
    this.revokedAccounts.add(clientEmail);
    for (const [token, grant] of this.tokens)
      if (grant.clientEmail === clientEmail) this.tokens.delete(token);
  }

  issueToken(clientEmail: string, scopes: string[]): { token: string; grant: AccessTokenGrant } {
    const token = `ya29.sandbox-${randomBytes(24).toString('base64url')}`;
    const grant = {
      clientEmail,
      project: projectOfServiceAccount(clientEmail),
      scopes: new Set(scopes),
      expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000,
    };
    this.tokens.set(token, grant);
    return { token, grant };
  }

  /**
   * Takes one request from the property's bucket; false when the property is over its rate. A refused
   * request takes nothing, so a client that backs off is not punished twice.
   */
  takeRateToken(propertyId: string, now = Date.now()): boolean {
    const capacity = Math.max(1, this.requestsPerSecond);
    const bucket = this.buckets.get(propertyId) ?? { tokens: capacity, updatedAt: now };
    bucket.tokens = Math.min(
      capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.requestsPerSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(propertyId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Which daily quota a request would exceed, if any; counts it when none is exceeded. */
  countDaily(propertyId: string, project: string, now = Date.now()): 'property' | 'project' | undefined {
    const day = pacificDay(now);
    const propertyKey = `${day}|property|${propertyId}`;
    const projectKey = `${day}|project|${project}`;
    const propertyUsed = this.usage.get(propertyKey) ?? 0;
    const projectUsed = this.usage.get(projectKey) ?? 0;
    if (propertyUsed >= this.dailyQuotaPerProperty) return 'property';
    if (projectUsed >= this.dailyQuotaPerProject) return 'project';
    this.usage.set(propertyKey, propertyUsed + 1);
    this.usage.set(projectKey, projectUsed + 1);
    return undefined;
  }

  reject(reason: string): void {
    this.rejections[reason] = (this.rejections[reason] ?? 0) + 1;
  }

  recordDeletion(
    propertyId: string,
    api: DeletionApi,
    type: IdentifierType,
    identifier: string,
    now = new Date(),
  ): DeletionRecord {
    const byIdentifier = this.deletions.get(propertyId) ?? new Map<string, DeletionRecord>();
    this.deletions.set(propertyId, byIdentifier);
    const key = `${type}:${identifier}`;
    const existing = byIdentifier.get(key);
    const record: DeletionRecord = existing ?? {
      propertyId,
      api,
      type,
      identifier,
      deletionRequestTime: now.toISOString(),
      submissions: 0,
      receivedAt: [],
    };
    // A repeated request for the same identifier is a new deletion request at Google: its time moves on.
    record.api = api;
    record.deletionRequestTime = now.toISOString();
    record.submissions += 1;
    record.receivedAt.push(now.toISOString());
    byIdentifier.set(key, record);
    return record;
  }

  snapshot() {
    const day = pacificDay(Date.now());
    return {
      properties: [...this.properties].sort(),
      deletionRequests: Object.fromEntries(
        [...this.deletions].map(([propertyId, records]) => [propertyId, [...records.values()]]),
      ),
      quotaUsedToday: Object.fromEntries([...this.usage].filter(([key]) => key.startsWith(`${day}|`))),
      rejections: this.rejections,
      activeTokens: [...this.tokens.values()].filter((grant) => grant.expiresAt > Date.now()).length,
    };
  }
}

export type GoogleSandboxState = ReturnType<GoogleSandboxStore['snapshot']>;
