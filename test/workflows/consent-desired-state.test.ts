import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjectStatusSchema } from '../../api/api-response-schemas.js';
import { purposeMapFields } from '../../config/purpose-map.js';
import { defaultDynamicsPurposeColumns } from '../../connectors/dynamics/config.js';
import { columnValue } from '../../connectors/dynamics/consent-columns.js';
import { subscriberHash } from '../../connectors/mailchimp/subscriber-hash.js';
import type { ConsentDecision, Purpose } from '../../domain/purposes.js';
import { type ConsentClientContext, consentStatus, recordConsentChange } from '../../hub-client/consent.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import { consentStateFromLedger } from '../../ledger/consent-state.js';
import type { Ledger } from '../../ledger/ledger.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import {
  closeConsentSystemUpdate,
  consentStatusQuery,
  retryConsentSystemUpdate,
} from '../../workflows/consent-definitions.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

type Row = Record<string, unknown>;
const listId = 'desired-news';
/** Every audience the connector is configured with (it uses all the account holds): the rule covers each. */
const audiences = [listId, 'desired-events'];
let counter = 0;

/**
 * Every pair of purposes that share a vendor field under the default purpose map, generated from the map
 * itself: withdrawing the first and then granting the second must leave the shared field withdrawn.
 */
const sharedPairs = (() => {
  const pairs = new Map<
    string,
    { withdrawn: Purpose; granted: Purpose; fields: { system: string; field: string }[] }
  >();
  for (const field of purposeMapFields({})) {
    for (const withdrawn of field.purposes) {
      for (const granted of field.purposes) {
        if (withdrawn === granted) continue;
        const key = `${withdrawn} then ${granted}`;
        const entry = pairs.get(key) ?? { withdrawn, granted, fields: [] };
        entry.fields.push({ system: field.system, field: field.field });
        pairs.set(key, entry);
      }
    }
  }
  return [...pairs.values()];
})();

/**
 * Consent as desired state, through the real connectors and SDKs against the sandboxes, on the real dev
 * server: shared fields, per-system lanes, and no consent data outliving an erasure.
 */
describe('consent as desired state', () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let vendors: typeof hub.vendors;
  let ledger: Ledger;
  let context: ConsentClientContext;

  beforeAll(async () => {
    hub = await startHubWithVendors('desired');
    ({ vendors, ledger } = hub);
    context = hub.temporal.context();
    await vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({ id, name: id, members: [] })),
    });
  });
  afterAll(() => hub?.close());

  async function plant() {
    const email = `desired.${Date.now()}.${counter++}@example.com`;
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'De', lastname: 'Sired', emailaddress1: email }],
    });
    await vendors.mailchimp.control.seed({
      lists: audiences.map((id) => ({
        id,
        name: id,
        members: [{ email_address: email, status: 'subscribed' as const }],
      })),
    });
    return { email, subjectKey: subjectKeyFor(email, context.subjectKeySecret) };
  }

  const change = (
    on: ConsentClientContext,
    email: string,
    purpose: Purpose,
    decision: ConsentDecision,
    occurredAt = new Date().toISOString(),
  ) =>
    recordConsentChange(on, {
      email,
      purpose,
      decision,
      occurredAt,
      source: 'test',
      evidence: decision === 'granted' ? { policyVersion: '2026-01', formId: 'preferences' } : {},
    });

  async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, tries = 150) {
    for (let i = 0; i < tries; i++) {
      const value = await read();
      if (done(value)) return value;
      await delay(200);
    }
    throw new Error(`never: ${what}`);
  }

  /** The decision in force for `purpose` has an answer from every given system. */
  const settled = (subjectKey: string, purpose: Purpose, eventId: string, systems: string[]) =>
    until(
      `${purpose} carried to ${systems.join(', ')}`,
      () => consentStateFromLedger(ledger, subjectKey),
      (state) =>
        state.purposes[purpose]?.eventId === eventId &&
        systems.every((s) => s in (state.outcomes[purpose] ?? {})),
    );

  const contactOf = async (email: string) =>
    ((await vendors.dynamics.control.state<{ contacts: Row[] }>()).contacts.find(
      (c) => c.emailaddress1 === email,
    ) ?? {}) as Row;
  const membersOf = async (email: string) =>
    (await vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>()).lists.flatMap(
      (l) => l.members.filter((m) => m.email_address === email),
    );

  const mailchimpMembersOf = async (email: string) =>
    (await vendors.mailchimp.control.state<{ lists: { id: string; members: Row[] }[] }>()).lists.flatMap(
      (l) =>
        l.members.filter((m) => m.email_address === email).map((m) => ({ list: l.id, status: m.status })),
    );

  it('finds pairs of purposes sharing a field in the default purpose map', () => {
    expect(sharedPairs.map((p) => `${p.withdrawn} then ${p.granted}`)).toContain(
      'marketing_email then event_invitations',
    );
  });

  it.each(sharedPairs.map((pair) => [`${pair.withdrawn} then ${pair.granted}`, pair] as const))(
    'withdraw then grant (%s): the shared field stays withdrawn and --verify shows no difference',
    async (_name, pair) => {
      const person = await plant();
      const base = Date.now();
      const withdrawal = await change(
        context,
        person.email,
        pair.withdrawn,
        'withdrawn',
        new Date(base).toISOString(),
      );
      const withdrawn = await settled(person.subjectKey, pair.withdrawn, withdrawal.eventId, [
        'dynamics',
        'mailchimp',
      ]);
      // The withdrawal changed the shared field in each system that has it (it was allowed before).
      for (const system of new Set(pair.fields.map((f) => f.system))) {
        expect(withdrawn.outcomes[pair.withdrawn]?.[system as 'dynamics' | 'mailchimp']).toBe('applied');
      }
      const grant = await change(
        context,
        person.email,
        pair.granted,
        'granted',
        new Date(base + 1000).toISOString(),
      );
      const state = await settled(person.subjectKey, pair.granted, grant.eventId, ['dynamics', 'mailchimp']);

      const contact = await contactOf(person.email);
      for (const { system, field } of pair.fields) {
        if (system === 'dynamics') {
          const { inverted } = defaultDynamicsPurposeColumns[pair.withdrawn];
          expect(contact[field]).toBe(columnValue('withdrawn', inverted));
          expect(state.outcomes[pair.granted]?.dynamics).toBe('withheld');
        }
        if (system === 'mailchimp') {
          // Every audience: the member in each stays unsubscribed, and the hub recorded so for each.
          const members = await mailchimpMembersOf(person.email);
          expect(members.map((m) => m.list).sort()).toEqual([...audiences].sort());
          for (const member of members) expect(member.status).toBe('unsubscribed');
          for (const id of audiences) {
            expect(state.written.mailchimp?.fields[`membership:${id}`]).toBe('unsubscribed');
          }
          expect(state.outcomes[pair.granted]?.mailchimp).toBe('withheld');
        }
        // The grant's write left the shared field as the withdrawal had it, and it does not rewrite what the
        // withdrawal's own write recorded for the withdrawn purpose (it changed the field: applied).
        expect(state.outcomes[pair.withdrawn]?.[system as 'dynamics' | 'mailchimp']).toBe('applied');
      }

      const status = await consentStatus(context, ledger, person.email, { verify: true });
      expect(status.differs).toBe(false);
      expect(status.agrees).toBe(true);
      const dynamicsFields = status.verification?.dynamics;
      expect(dynamicsFields && 'fields' in dynamicsFields && dynamicsFields.fields.length).toBeGreaterThan(0);
      const mailchimpFields = status.verification?.mailchimp;
      const checked = mailchimpFields && 'fields' in mailchimpFields ? mailchimpFields.fields : [];
      for (const id of audiences) {
        expect(checked.find((f) => f.field === `membership:${id}`)).toMatchObject({ differs: false });
      }
    },
  );

  it('a change to a purpose Mailchimp does not carry keeps its last written state and its unresolved withdrawal', {
    timeout: 60_000,
  }, async () => {
    const person = await plant();
    await vendors.mailchimp.control.fail({
      method: 'PATCH',
      path: `/members/${subscriberHash(person.email)}$`,
      status: 403,
      count: 1,
    });
    await change(context, person.email, 'marketing_email', 'withdrawn');
    const handle = hub.temporal.client.workflow.getHandle(`consent-${person.subjectKey}`);
    await until(
      'Mailchimp waiting for an operator',
      () => handle.query(consentStatusQuery),
      (s) => s.systems.mailchimp.status === 'needs_attention',
    );
    await handle.executeUpdate(closeConsentSystemUpdate, {
      args: [{ system: 'mailchimp', reason: 'test: closed' }],
    });
    const closed = await until(
      'the closed withdrawal recorded',
      () => ledger.listSystemConsentStates(person.subjectKey),
      (states) => states.some((s) => s.system === 'mailchimp' && s.outcome === 'closed_by_operator'),
    );
    const before = closed.find((s) => s.system === 'mailchimp');

    // Phone maps to a Dynamics column only: Mailchimp answers not_applicable and must keep what it had.
    const phone = await change(context, person.email, 'phone', 'withdrawn');
    const state = await settled(person.subjectKey, 'phone', phone.eventId, ['dynamics', 'mailchimp']);
    expect(state.outcomes.phone).toEqual({ dynamics: 'applied', mailchimp: 'not_applicable' });
    expect(state.written.mailchimp).toEqual({
      at: before?.writtenAt,
      outcome: 'closed_by_operator',
      fields: before?.fields,
      reason: 'test: closed',
    });
    expect(state.written.dynamics?.fields).toMatchObject({ donotbulkemail: 'true', donotphone: 'true' });
    expect(await ledger.listUnresolvedConsentSubjects('mailchimp', 1000)).toContain(person.subjectKey);
    const live = await handle.query(consentStatusQuery);
    expect(live.systems.mailchimp.written?.outcome).toBe('closed_by_operator');
    // The workflow stays open for reconciliation, which still finds the withdrawal to write again.
    expect((await handle.describe()).status.name).toBe('RUNNING');
  });

  it.each([
    ['retrying (Mailchimp answers 503)', { status: 503, count: 1000 }, 'running'],
    [
      'waiting out a Retry-After (Mailchimp answers 429)',
      { status: 429, retryAfter: 600 },
      'waiting_for_vendor',
    ],
  ] as const)(
    'a later withdrawal supersedes an older grant still %s for the same system',
    {
      timeout: 60_000,
    },
    async (_name, fault, lane) => {
      const short: ConsentClientContext = {
        ...context,
        consentTimings: { ...context.consentTimings, attentionAfter: '20 seconds' },
      };
      const email = `desired.supersede.${Date.now()}.${counter++}@example.com`;
      const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
      await vendors.dynamics.control.seed({
        contacts: [{ firstname: 'Su', lastname: 'Persede', emailaddress1: email }],
      });
      // Unsubscribed: the grant (with evidence) is a PATCH back to pending, which the fault holds up; the
      // withdrawal's PATCH (to unsubscribed) goes through.
      await vendors.mailchimp.control.seed({
        lists: [
          { id: listId, name: 'Newsletter', members: [{ email_address: email, status: 'unsubscribed' }] },
        ],
      });
      await vendors.mailchimp.control.fail({
        method: 'PATCH',
        path: `/members/${subscriberHash(email)}$`,
        body: '"status":"pending"',
        ...fault,
      });
      try {
        const base = Date.now();
        await change(short, email, 'marketing_email', 'granted', new Date(base).toISOString());
        await until(
          `the grant ${lane} in Mailchimp`,
          () => consentStatus(short, ledger, email),
          (s) => s.systems.mailchimp.status === lane && (s.systems.mailchimp.attempts ?? 0) >= 1,
        );
        const started = Date.now();
        const withdrawal = await change(
          short,
          email,
          'marketing_email',
          'withdrawn',
          new Date(base + 1000).toISOString(),
        );
        const state = await settled(subjectKey, 'marketing_email', withdrawal.eventId, ['mailchimp']);
        // At once, not after the retries or the vendor's wait: the member never went back to pending.
        expect(Date.now() - started).toBeLessThan(15_000);
        // Mailchimp's opt-out is one PATCH with no read first, and its answer (the member, unsubscribed)
        // cannot tell whether the member was unsubscribed before: the hub wrote it and Mailchimp confirmed it,
        // which is 'applied'; 'already' would claim a state the hub never saw.
        expect(state.outcomes.marketing_email?.mailchimp).toBe('applied');
        const patches = (await vendors.mailchimp.control.requests()).filter(
          (r) => r.method === 'PATCH' && r.path.endsWith(`/members/${subscriberHash(email)}`),
        );
        expect(patches.filter((r) => r.status === 200)).toHaveLength(1);
        expect(state.written.mailchimp?.fields[`membership:${listId}`]).toBe('unsubscribed');
        expect((await membersOf(email)).map((m) => m.status)).toEqual(['unsubscribed']);
        const status = await consentStatus(short, ledger, email);
        expect(status.systems.mailchimp.status).toBe('idle');
      } finally {
        await vendors.mailchimp.control.clearFaults();
      }
    },
  );

  it('status --verify marks a field changed in the tool behind the hub’s back', async () => {
    const person = await plant();
    const withdrawal = await change(context, person.email, 'marketing_email', 'withdrawn');
    await settled(person.subjectKey, 'marketing_email', withdrawal.eventId, ['dynamics', 'mailchimp']);
    await vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Newsletter', members: [{ email_address: person.email, status: 'subscribed' }] },
      ],
    });
    const status = await consentStatus(context, ledger, person.email, { verify: true });
    expect(status.differs).toBe(true);
    const mailchimp = status.verification?.mailchimp;
    expect(mailchimp && 'fields' in mailchimp ? mailchimp.fields.filter((f) => f.differs) : []).toEqual([
      expect.objectContaining({
        field: `membership:${listId}`,
        actual: 'subscribed',
        desired: 'unsubscribed',
      }),
    ]);
  });

  it('Dynamics down past the attention period never holds back Mailchimp, and an operator retry writes the latest state', {
    timeout: 90_000,
  }, async () => {
    const short: ConsentClientContext = {
      ...context,
      consentTimings: { ...context.consentTimings, attentionAfter: '3 seconds' },
    };
    const person = await plant();
    await vendors.dynamics.control.outage(true);
    try {
      // A change only Dynamics carries parks Dynamics for an operator.
      await change(short, person.email, 'phone', 'withdrawn');
      const parked = await until(
        'Dynamics waiting for an operator',
        () => consentStatus(short, ledger, person.email),
        (s) => s.systems.dynamics.status === 'needs_attention',
      );
      expect(parked.systems.mailchimp.status).toBe('idle');

      // A later withdrawal while Dynamics waits: Mailchimp carries it, and gets it within seconds.
      const started = Date.now();
      await change(short, person.email, 'marketing_email', 'withdrawn');
      await until(
        'the withdrawal in Mailchimp',
        () => membersOf(person.email),
        (members) => members.length > 0 && members.every((m) => m.status === 'unsubscribed'),
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      const waiting = await until(
        'the newer state queued for Dynamics',
        () => consentStatus(short, ledger, person.email),
        (s) =>
          s.purposes.marketing_email?.systems.mailchimp === 'applied' && s.systems.dynamics.behind === true,
      );
      expect(waiting.systems.dynamics.status).toBe('needs_attention');

      // A tool that cannot be read is named, and never counts as agreeing (the API answers the same).
      const verified = await consentStatus(short, ledger, person.email, { verify: true });
      expect(verified.agrees).toBe(false);
      expect(verified.unreadable?.map((u) => u.system)).toEqual(['dynamics']);
      expect(verified.unreadable?.[0]?.reason).not.toBe('');
      expect(subjectStatusSchema.parse(verified).unreadable).toEqual(verified.unreadable);
    } finally {
      await vendors.dynamics.control.outage(false);
    }
    await vendors.dynamics.control.clearRequests();
    await hub.temporal.client.workflow
      .getHandle(`consent-${person.subjectKey}`)
      .executeUpdate(retryConsentSystemUpdate, { args: [{ system: 'dynamics' }] });
    const contact = await until(
      'the latest state in Dynamics',
      () => contactOf(person.email),
      (c) => c.donotbulkemail === true && c.donotphone === true,
    );
    expect(contact.donotbulkemail).toBe(true);
    const patches = (await vendors.dynamics.control.requests()).filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
  });

  it('refuses a grant that arrives while the person is being erased, so it never reaches Mailchimp, and still carries a withdrawal', {
    timeout: 90_000,
  }, async () => {
    const email = `desired.erasing.${Date.now()}.${counter++}@example.com`;
    const subjectKey = subjectKeyFor(email, context.subjectKeySecret);
    await vendors.dynamics.control.seed({
      contacts: [{ firstname: 'Er', lastname: 'Asing', emailaddress1: email, donotbulkemail: true }],
    });
    // Unsubscribed: a grant of event_invitations (membership) would PATCH the member back to pending.
    await vendors.mailchimp.control.seed({
      lists: [
        { id: listId, name: 'Newsletter', members: [{ email_address: email, status: 'unsubscribed' }] },
      ],
    });
    await vendors.mailchimp.control.clearRequests();
    // A slow Mailchimp keeps the erasure running while the changes arrive.
    await vendors.mailchimp.control.setLatency(1500);
    try {
      const erasure = await requestErasure(context, {
        email,
        requestedBy: 'test',
        requestedAt: new Date().toISOString(),
      });
      const grant = await change(context, email, 'event_invitations', 'granted');
      const withdrawal = await change(context, email, 'phone', 'withdrawn');
      const during = await until(
        'the grant refused and the withdrawal taken',
        () => consentStatus(context, ledger, email),
        (s) => s.refused.includes(grant.eventId) && s.purposes.phone?.eventId === withdrawal.eventId,
      );
      expect(during.purposes.event_invitations).toBeUndefined();
      const receipt = await awaitReceipt(context, erasure);
      expect(receipt.outcome).toBe('completed');
    } finally {
      await vendors.mailchimp.control.setLatency(0);
    }
    const hash = subscriberHash(email);
    const writes = (await vendors.mailchimp.control.requests()).filter(
      (r) => (r.method === 'PATCH' || r.method === 'PUT') && r.path.includes(hash),
    );
    expect(writes).toEqual([]);
    expect(await membersOf(email)).toEqual([]);
    await until(
      'the consent lanes at rest',
      () => consentStatus(context, ledger, email),
      (s) => s.inFlight === 0 && Object.values(s.systems).every((sys) => sys.status === 'idle'),
    );
    expect(await ledger.listConsentEvents(subjectKey)).toEqual([]);
  });

  it('leaves no consent events or outcomes for a subject whose consent changes raced their erasure', {
    timeout: 90_000,
  }, async () => {
    for (let round = 0; round < 3; round++) {
      const person = await plant();
      const [erasure] = await Promise.all([
        requestErasure(context, {
          email: person.email,
          requestedBy: 'test',
          requestedAt: new Date().toISOString(),
        }),
        change(context, person.email, 'phone', 'withdrawn'),
        // A purpose Mailchimp membership and the Dynamics donotbulkemail column carry (phone shares neither).
        delay(round * 150).then(() => change(context, person.email, 'event_invitations', 'granted')),
      ]);
      const receipt = await awaitReceipt(context, erasure);
      expect(receipt.outcome).toBe('completed');
      await until(
        'the consent lanes at rest',
        () => consentStatus(context, ledger, person.email),
        (s) => s.inFlight === 0 && Object.values(s.systems).every((sys) => sys.status === 'idle'),
      );
      await delay(500);
      expect(await ledger.listConsentEvents(person.subjectKey)).toEqual([]);
      expect(await ledger.listConsentOutcomes(person.subjectKey)).toEqual([]);
      expect(await ledger.listSystemConsentStates(person.subjectKey)).toEqual([]);
      expect(await membersOf(person.email)).toEqual([]);
    }
  });
});
