// The two APIs' own modules of the googleapis package, not its index: the index loads every Google API
// (about 100 MB more RSS in each worker, README "Worker sizing").
import { analytics as analyticsApi } from 'googleapis/build/src/apis/analytics/index.js';
import { analyticsadmin } from 'googleapis/build/src/apis/analyticsadmin/index.js';
import { normaliseEmail } from '../../domain/email.js';
import type { Logger } from '../../logging/logger.js';
import type {
  AccessRecord,
  ApplyConsentResult,
  Connector,
  ConsentChange,
  ConsentReading,
  ConsentStateRequest,
  ConsentStateResult,
  ErasedRecord,
  EraseOptions,
  EraseResult,
  FindResult,
  RestrictResult,
  SubjectIdentifiers,
  VendorRecordRef,
} from '../connector.js';
import type { ConnectorOperation } from '../connector-errors.js';
import { NonRetryableVendorError, VendorError } from '../connector-errors.js';
import { createGoogleAuthClient } from './auth.js';
import type { GoogleConfig } from './config.js';
import { classifyGoogleError } from './errors.js';
import { analyticsEditScope, analyticsReadonlyScope, userDeletionScope } from './google-scopes.js';
import { paceForProperty } from './pacing.js';
import { propertyResourceName } from './property-ids.js';
import { readServiceAccountKey } from './service-account.js';

/** One deletion to submit: an identifier of one kind, in one property. */
interface DeletionTarget {
  propertyId: string;
  type: 'CLIENT_ID' | 'USER_ID' | 'USER_PROVIDED_DATA';
  /** The GA identifier; for user-provided data, the normalised email (sent, never logged or returned). */
  value: string;
}

/**
 * Google Analytics: it cannot be asked what it holds about a person, only told to delete an identifier.
 * Erasure submits one deletion request per identifier per configured GA4 property through the User
 * Deletion API, plus (when configured) the email through the Admin API; Google deletes later, so the
 * outcome is `submitted` with Google's deletionRequestTime.
 */
export function createGoogleConnector(config: GoogleConfig, deps: { logger: Logger }): Connector {
  const logger = deps.logger.child({ system: 'google' });
  const key = readServiceAccountKey(config.credentialsFile);
  const authOptions = {
    key,
    // Least privilege: the Admin API's edit scope only when the Admin API is used at all.
    scopes: config.submitUserProvidedData ? [userDeletionScope, analyticsEditScope] : [userDeletionScope],
    tokenUrl: config.tokenUrl,
    timeoutMs: config.timeoutMs,
  };
  const auth = createGoogleAuthClient(authOptions);
  // `rootUrl` only when configured: unset, each API keeps its own default host.
  const root = config.apiRootUrl ? { rootUrl: config.apiRootUrl } : {};
  const analytics = analyticsApi({ version: 'v3', auth, ...root });
  const admin = analyticsadmin({ version: 'v1alpha', auth, ...root });
  // Access requests only read a property's settings: a token of their own with the read-only scope.
  const readAuth = createGoogleAuthClient({ ...authOptions, scopes: [analyticsReadonlyScope] });
  const adminRead = analyticsadmin({ version: 'v1beta', auth: readAuth, ...root });
  // googleapis sets gaxios `retry: true`, but gaxios does not retry POSTs; `retry: false` states that
  // Temporal's activity retries are the one retry layer.
  const callOptions = { timeout: config.timeoutMs, retry: false };

  async function submit(target: DeletionTarget): Promise<string> {
    // The token is fetched before the pacing slot is taken, so the paced call is the API request alone.
    await auth.getAccessToken();
    return paceForProperty(target.propertyId, config.requestsPerSecond, async () => {
      if (target.type === 'USER_PROVIDED_DATA') {
        const response = await admin.properties.submitUserDeletion(
          {
            name: propertyResourceName(target.propertyId),
            requestBody: { userProvidedData: target.value },
          },
          callOptions,
        );
        return response.data.deletionRequestTime ?? '';
      }
      const response = await analytics.userDeletion.userDeletionRequest.upsert(
        {
          requestBody: {
            kind: 'analytics#userDeletionRequest',
            id: { type: target.type, userId: target.value },
            propertyId: target.propertyId,
          },
        },
        callOptions,
      );
      return response.data.deletionRequestTime ?? '';
    });
  }

  function targetsFor(subject: SubjectIdentifiers): DeletionTarget[] {
    const clientIds = [...new Set(subject.gaClientIds.map((id) => id.trim()).filter(Boolean))];
    const userIds = [...new Set(subject.gaUserIds.map((id) => id.trim()).filter(Boolean))];
    return config.propertyIds.flatMap((propertyId) => [
      ...clientIds.map((value) => ({ propertyId, type: 'CLIENT_ID' as const, value })),
      ...userIds.map((value) => ({ propertyId, type: 'USER_ID' as const, value })),
      ...(config.submitUserProvidedData && subject.email
        ? [{ propertyId, type: 'USER_PROVIDED_DATA' as const, value: normaliseEmail(subject.email) }]
        : []),
    ]);
  }

  /**
   * Submits every deletion, properties in parallel and each property at its paced rate. Upserts are
   * idempotent, so when one fails and Temporal retries the whole activity, resubmitting the others is
   * harmless. A non-retryable failure is reported ahead of a retryable one: retrying cannot fix it.
   */
  async function submitAll(
    subject: SubjectIdentifiers,
    operation: ConnectorOperation,
    skip: EraseOptions['skip'] = () => false,
  ): Promise<ErasedRecord[]> {
    // A deletion the caller says Google accepted before (in one property of several) is not sent again:
    // each one spends that property's daily quota.
    const targets = targetsFor(subject).filter((target) => !skip(recordOf(target)));
    const settled = await Promise.allSettled(
      targets.map(async (target): Promise<ErasedRecord> => {
        try {
          const vendorTime = await submit(target);
          return { ...recordOf(target), result: 'submitted', vendorTime };
        } catch (error) {
          throw classifyGoogleError(error, operation, { timeoutMs: config.timeoutMs });
        }
      }),
    );
    const failures = settled.flatMap((entry) =>
      entry.status === 'rejected' ? [entry.reason as VendorError] : [],
    );
    if (failures.length > 0) {
      const first = failures.find((failure) => !failure.retryable) ?? failures[0];
      logger.warn(
        {
          operation,
          failed: failures.length,
          of: targets.length,
          status: first?.status,
          vendorCode: first?.vendorCode,
        },
        `Google user deletion failed: ${first?.reason}`,
      );
      const failure =
        first instanceof VendorError
          ? first
          : new NonRetryableVendorError({ system: 'google', operation, reason: 'unknown failure' });
      // The deletions Google accepted before the failure are done (and counted in its daily quota): the
      // caller records them, so no retry or later day sends them again, and the evidence names them.
      failure.accepted = settled.flatMap((entry) =>
        entry.status === 'fulfilled' ? [{ ...entry.value, result: 'submitted' as const }] : [],
      );
      throw failure;
    }
    const records = settled.flatMap((entry) => (entry.status === 'fulfilled' ? [entry.value] : []));
    logger.info({ operation, submitted: records.length }, 'Google user deletions submitted');
    return records;
  }

  /** How a deletion is named in answers, receipts and the ledger. */
  function recordOf(target: DeletionTarget): VendorRecordRef {
    return {
      kind: 'userDeletionRequest',
      // The email never becomes an id: user-provided data is named by its kind only.
      id: target.type === 'USER_PROVIDED_DATA' ? 'userProvidedData' : target.value,
      container: propertyResourceName(target.propertyId),
    };
  }

  function hasIdentifiers(subject: SubjectIdentifiers): boolean {
    return targetsFor(subject).length > 0;
  }

  return {
    system: 'google',

    /**
     * GA4 has no per-user export: the Admin and Data APIs report on the property as a whole, and the User
     * Deletion API only deletes. What can be said is each property's data retention (Admin API
     * `properties.getDataRetentionSettings`; developers.google.com/analytics/devguides/config/admin/v1/
     * rest/v1beta/properties/getDataRetentionSettings), which the access report states. The identifiers
     * the hub knows are added by the access activity (they come from the request and the CRM, not Google).
     */
    async collectAccess(_subject, progress) {
      const records: AccessRecord[] = [];
      for (const propertyId of config.propertyIds) {
        const name = `${propertyResourceName(propertyId)}/dataRetentionSettings`;
        let settings: Record<string, unknown>;
        try {
          const response = await adminRead.properties.getDataRetentionSettings({ name }, callOptions);
          settings = { ...(response.data as Record<string, unknown>) };
        } catch (error) {
          throw classifyGoogleError(error, 'access', { timeoutMs: config.timeoutMs });
        }
        progress?.();
        records.push({
          kind: 'dataRetention',
          id: name,
          container: propertyResourceName(propertyId),
          fields: [
            {
              name: 'eventDataRetention',
              label: 'Event data retention',
              value: settings.eventDataRetention ?? null,
            },
            {
              name: 'userDataRetention',
              label: 'User data retention',
              value: settings.userDataRetention ?? null,
            },
            {
              name: 'resetUserDataOnNewActivity',
              label: 'Retention restarts with new activity',
              value: settings.resetUserDataOnNewActivity ?? null,
            },
          ],
        });
      }
      logger.info({ operation: 'access', properties: records.length }, 'Google data retention read');
      return {
        records,
        statements: [
          {
            topic: 'no per-user export',
            text: 'Google Analytics 4 offers no export of the data it holds about one user: its APIs report on a property as a whole and can only delete a user’s data. Listed here are the Google Analytics identifiers consent-hub knows for you and how long each property keeps event and user data.',
          },
        ],
      };
    },

    async checkAccess() {
      try {
        // A client of its own, so the exchange really happens: the shared client (and gtoken inside it)
        // answers from its cached token for up to an hour after the key was deleted or the account
        // disabled. The User Deletion API has no read to try instead; a new token is the cheapest proof
        // that Google accepts the key now.
        await createGoogleAuthClient(authOptions).getAccessToken();
      } catch (error) {
        throw classifyGoogleError(error, 'authenticate', { timeoutMs: config.timeoutMs });
      }
    },

    // Google Analytics cannot be asked what it holds about a person.
    async find(_subject: SubjectIdentifiers): Promise<FindResult> {
      return { records: [], gaClientIds: [], gaUserIds: [] };
    },

    /**
     * GA4 has no per-user restriction of processing: its APIs offer user deletion (User Deletion API,
     * Admin API submitUserDeletion) and property-wide settings, nothing that marks one user's data as
     * restricted. So nothing is changed, and the receipt says why; the deletion follows the hold's release.
     */
    async restrict(_subject: SubjectIdentifiers): Promise<RestrictResult> {
      return {
        outcome: 'not_applicable',
        records: [],
        note: 'Google Analytics offers no per-user restriction (only deletion); nothing to restrict, its deletion is submitted after the release',
      };
    },

    plannedDeletions(subject: SubjectIdentifiers): VendorRecordRef[] {
      return targetsFor(subject).map(recordOf);
    },

    async erase(subject: SubjectIdentifiers, options?: EraseOptions): Promise<EraseResult> {
      if (!hasIdentifiers(subject)) return { outcome: 'not_found', records: [] };
      return { outcome: 'submitted', records: await submitAll(subject, 'erase', options?.skip) };
    },

    // Google keeps no per-user consent flag.
    async readConsent(_subject: SubjectIdentifiers): Promise<ConsentReading> {
      return { purposes: {}, records: [] };
    },

    /**
     * GA's only consent "field" is the user deletion a statistics withdrawal asks for: submitted when the
     * statistics withdrawal is new (`changed`), for the identifiers given (the workflow adds the CRM's).
     */
    async applyConsentState(
      subject: SubjectIdentifiers,
      request: ConsentStateRequest,
      options?: EraseOptions,
    ): Promise<ConsentStateResult> {
      const statistics = request.decisions.statistics;
      if (statistics?.decision !== 'withdrawn' || !request.changed.includes('statistics')) {
        return { outcome: 'not_applicable', purposes: {}, fields: {}, records: [] };
      }
      if (!hasIdentifiers(subject)) {
        return { outcome: 'not_found', purposes: { statistics: 'not_found' }, fields: {}, records: [] };
      }
      const records = await submitAll(subject, 'applyConsent', options?.skip);
      const latest =
        records
          .map((record) => record.vendorTime ?? '')
          .sort()
          .at(-1) || undefined;
      return {
        outcome: 'applied',
        purposes: { statistics: 'applied' },
        fields: { userDeletion: latest ?? 'submitted' },
        records,
        vendorTime: latest,
      };
    },

    async verifyConsentState() {
      return { fields: [], note: 'Google Analytics cannot be asked what it holds about a person' };
    },

    /** Withdrawing "statistics" is carried out as a user deletion; nothing else has a meaning here. */
    async applyConsent(subject: SubjectIdentifiers, change: ConsentChange): Promise<ApplyConsentResult> {
      if (change.purpose !== 'statistics' || change.decision !== 'withdrawn') {
        return { outcome: 'not_applicable', records: [] };
      }
      if (!hasIdentifiers(subject)) return { outcome: 'not_found', records: [] };
      const records = await submitAll(subject, 'applyConsent');
      const latest = records
        .map((record) => record.vendorTime ?? '')
        .sort()
        .at(-1);
      return { outcome: 'applied', records, vendorTime: latest || undefined };
    },
  };
}
