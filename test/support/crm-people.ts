import type { startHubWithVendors } from './hub-with-vendors.js';

type Hub = Awaited<ReturnType<typeof startHubWithVendors>>;

/**
 * A person whose names only the CRM holds: seeds `hub`'s Dataverse sandbox with one contact `first last` at
 * `email`, by default a fresh `<first two letters of first>.<now>@example.com` (a local part that shares no
 * word with the names, so only the CRM's names can redact them). Returns the address.
 */
export async function personInCrm(
  hub: Hub,
  person: { first: string; last: string; email?: string },
): Promise<string> {
  const { first, last } = person;
  const email = person.email ?? `${first.slice(0, 2).toLowerCase()}.${Date.now()}@example.com`;
  await hub.vendors.dynamics.control.seed({
    contacts: [{ firstname: first, lastname: last, emailaddress1: email }],
  });
  return email;
}
