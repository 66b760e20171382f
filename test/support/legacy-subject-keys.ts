import { createHmac } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { expect } from 'vitest';
import type { ConsentClientContext } from '../../hub-client/consent.js';
import { legacySubjectKeysFor, subjectKeyFor } from '../../privacy/subject-key.js';
import type { consentWorkflow } from '../../workflows/consent.js';
import { consentStatusQuery, consentWorkflowId } from '../../workflows/consent-definitions.js';
import { subjectKeyAttribute } from '../../workflows/search-attribute-keys.js';
import type { startHubWithVendors } from './hub-with-vendors.js';
import { waitFor } from './waiting.js';

let counter = 0;

/** The key versions before the canonical form (commit 734150c) gave an address: the HMAC of its spelling. */
export function olderSubjectKey(normalised: string, secret: string): string {
  return createHmac('sha256', secret).update(normalised, 'utf8').digest('hex');
}

/**
 * A fresh address held under its punycode spelling (`punycode`), whose IDN spelling (`idn`) is what a new
 * request sends: its older key (`legacyKey`) is not the canonical one (`canonicalKey`), and the hub knows it
 * as one of the address's legacy keys.
 */
export function personWithLegacyKey(secret: string) {
  const punycode = `lea${Date.now().toString(36)}${counter++}@xn--bcher-kva.example`;
  const idn = punycode.replace('xn--bcher-kva', 'bücher');
  const legacyKey = olderSubjectKey(punycode, secret);
  const canonicalKey = subjectKeyFor(idn, secret);
  expect(legacyKey).not.toBe(canonicalKey);
  expect(legacySubjectKeysFor(idn, secret)).toContain(legacyKey);
  return { punycode, idn, legacyKey, canonicalKey };
}

/**
 * Starts a consent workflow under the person's legacy key, as an older version did (keyed by the punycode
 * spelling), with the person in Dynamics under that spelling and subscribed in Mailchimp's `listId` under the
 * IDN one (Mailchimp's consent write looks the member up by the spelling it is given), and waits until it
 * answers queries. `timings` should keep it idle long enough for the test (minutes).
 */
export async function startConsentRunUnderLegacyKey(
  hub: Awaited<ReturnType<typeof startHubWithVendors>>,
  context: ConsentClientContext,
  person: ReturnType<typeof personWithLegacyKey>,
  listId: string,
  timings: ConsentClientContext['consentTimings'],
): Promise<WorkflowHandle<typeof consentWorkflow>> {
  await hub.vendors.dynamics.control.seed({
    contacts: [{ firstname: 'Lea', lastname: 'Legacy', emailaddress1: person.punycode }],
  });
  await hub.vendors.mailchimp.control.seed({
    lists: [{ id: listId, name: 'News', members: [{ email_address: person.idn, status: 'subscribed' }] }],
  });
  const legacyRun = await context.client.workflow.start<typeof consentWorkflow>('consentWorkflow', {
    taskQueue: context.taskQueue,
    workflowId: consentWorkflowId(person.legacyKey),
    args: [{ subjectKey: person.legacyKey, email: person.punycode, timings }],
    typedSearchAttributes: [{ key: subjectKeyAttribute, value: person.legacyKey }],
  });
  await waitFor('the legacy run is up', () => legacyRun.query(consentStatusQuery), { retryErrors: true });
  return legacyRun;
}
