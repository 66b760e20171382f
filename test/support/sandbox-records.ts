import type { startVendorSandboxes } from './vendor-sandboxes.js';

type Vendors = Awaited<ReturnType<typeof startVendorSandboxes>>;
type Row = Record<string, unknown>;

/**
 * The Dynamics sandbox's contacts and leads that hold `email` (compared lower-cased; pass it lower-cased) in
 * any of emailaddress1–3, as its state holds them.
 */
export async function dynamicsRowsHolding(
  vendors: Vendors,
  email: string,
): Promise<{ contacts: Row[]; leads: Row[] }> {
  const state = await vendors.dynamics.control.state<{ contacts: Row[]; leads: Row[] }>();
  const holds = (row: Row) =>
    ['emailaddress1', 'emailaddress2', 'emailaddress3'].some(
      (column) => typeof row[column] === 'string' && (row[column] as string).toLowerCase() === email,
    );
  return { contacts: state.contacts.filter(holds), leads: state.leads.filter(holds) };
}

/** The ids of the Mailchimp sandbox's audiences with a member at `email` (compared lower-cased), in state order. */
export async function mailchimpListsHolding(vendors: Vendors, email: string): Promise<string[]> {
  const state = await vendors.mailchimp.control.state<{
    lists: { id: string; members: { email_address: string }[] }[];
  }>();
  return state.lists
    .filter((list) => list.members.some((m) => m.email_address.toLowerCase() === email))
    .map((list) => list.id);
}
