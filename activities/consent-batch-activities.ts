import { runWithCallSignal } from '../connectors/call-signal.js';
import type {
  BulkConsentWrite,
  BulkWriteOutcome,
  ConnectorSet,
  DecisionsInForce,
} from '../connectors/connector.js';
import type {
  BulkPersonOutcome,
  BulkPersonState,
  BulkSystem,
  ConsentBatchItem,
  ConsentBatchRoute,
} from '../domain/consent-batch.js';
import type { Purpose } from '../domain/purposes.js';
import { maxRedactionNames, withheldTextMarker } from '../domain/redaction-names.js';
import { redactText } from '../domain/text-redaction.js';
import { consentStateFromLedger } from '../ledger/consent-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../logging/logger.js';
import { canonicalKeyLink } from '../privacy/subject-key.js';
import { recordConsentStateWritten } from './consent-state-record.js';
import type { WorkStarter } from './reconciliation-activities.js';

export interface ConsentBatchDependencies {
  connectors: ConnectorSet;
  ledger: Ledger;
  logger: Logger;
  starter: WorkStarter;
  /** Runs a whole-batch vendor call the activity way: heartbeats, the attempt's signal, errors as failures. */
  runVendor<T>(system: BulkSystem, operation: string, run: () => Promise<T>): Promise<T>;
}

/** People whose ledger work runs at once in the intake (each is a few statements). */
const intakeConcurrency = 8;
/**
 * How long the intake spends reading the CRM's names for notes, in all, and per person (ms): the intake runs
 * under a 10-minute start-to-close timeout (workflows/consent-batch.ts) beside the ledger work of up to 1,000
 * people, so a slow CRM must not make it time out and retry whole. A person whose names were not read in
 * time goes to their own workflow, which reads them itself.
 */
const namesBudgetMs = 120_000;
const namesPerPersonMs = 5_000;
/** A hand-over's reason when the vendor's words about the person could not be checked for the CRM's names. */
export const withheldVendorText = `the vendor's words ${withheldTextMarker}`;

async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * The bulk path's activities (workflows/consent-batch.ts). Every argument that holds an address is one
 * person's own argument, so the codec seals it with that person's data key; results hold subject keys,
 * event ids and outcomes only, and logs hold counts and the batch id.
 */
export function createConsentBatchActivities({
  connectors,
  ledger,
  logger,
  starter,
  runVendor,
}: ConsentBatchDependencies) {
  const running = async (workflowId: string) => (await starter.isRunning?.(workflowId)) ?? false;

  /**
   * Hands a person's changes to their own consent workflow (signal-with-start), by their event ids.
   * `holders`: the workflows that carried them here (the batch, its buffer), which an erased person's
   * shredding waits for.
   */
  async function handToPerson(items: ConsentBatchItem[], holders: string[] = []): Promise<void> {
    for (const { email, change } of items) {
      await starter.changeConsent(
        {
          email,
          purpose: change.purpose,
          decision: change.decision,
          occurredAt: change.occurredAt,
          source: change.source,
          evidence: change.evidence,
        },
        change.eventId,
        // The change was recorded when the batch took it in; its hand-over keeps that time.
        { recordedAt: change.recordedAt, ...(holders.length > 0 ? { holders } : {}) },
      );
    }
  }

  /** Why a person's changes must go through their own workflow rather than the batch, if they must. */
  async function needsPersonPath(subjectKey: string, items: ConsentBatchItem[]): Promise<string | undefined> {
    if (items.some((i) => i.change.decision === 'granted')) {
      return 'a grant goes through the per-person path (double opt-in, pending status and its evidence)';
    }
    if (items.some((i) => i.change.purpose === 'statistics')) {
      return 'a statistics withdrawal deletes the person in Google Analytics, through the per-person path';
    }
    if (await running(`consent-${subjectKey}`)) {
      return "the person's consent workflow is open and serialises their changes";
    }
    if (await running(`erasure-${subjectKey}`)) return 'an erasure of the person is running';
    // An address a rectification moved away from (a late Mailchimp webhook, a reconciliation page read before
    // the change): the change is the person's under their key now, whatever state its workflow is in; the
    // person's own route finds that key and their address now (hub-client rekeyedSubject).
    const link = await ledger.getSubjectLink(subjectKey);
    if (link && link.requestId !== canonicalKeyLink) {
      return `a rectification (${link.requestId}) moved the person to another key`;
    }
    // A run started before an upgrade, under the key an older version gave another spelling of the address:
    // the person's own route hands it over to this key (consent) or meets it (erasure), so the batch never
    // writes beside it, out of order.
    const email = items[0]?.email ?? '';
    const legacyConsent = await starter.runningUnderLegacyKey?.({ email, kind: 'consent' });
    if (legacyConsent) {
      return `the person's consent workflow is open under an older key (${legacyConsent}); it hands over to this key and serialises their changes`;
    }
    const legacyErasure = await starter.runningUnderLegacyKey?.({ email, kind: 'erasure' });
    if (legacyErasure) return `an erasure of the person is running under an older key (${legacyErasure})`;
    return undefined;
  }

  /**
   * The CRM's names for a person (Dynamics' first and last names, at most maxRedactionNames), read to redact
   * their notes as the per-person workflow does (patch consent-note-crm-names): [] when no CRM is
   * configured; undefined when it did not answer within `withinMs` (the caller hands the person over).
   */
  async function crmNamesOf(email: string, withinMs: number): Promise<string[] | undefined> {
    const dynamics = connectors.dynamics;
    if (!dynamics) return [];
    const signal = AbortSignal.timeout(Math.max(1, withinMs));
    try {
      const found = await runWithCallSignal(signal, () =>
        dynamics.find({ email, gaClientIds: [], gaUserIds: [] }),
      );
      return (found.names ?? []).slice(0, maxRedactionNames);
    } catch {
      return undefined;
    }
  }

  /**
   * Whether a person's state moved since the batch's intake planned it: their consent workflow is open
   * (under this key or an older one), or the events in force in the ledger are no longer the ones the
   * intake computed.
   */
  async function overtakenSinceIntake(person: BulkPersonState): Promise<boolean> {
    if (await running(`consent-${person.subjectKey}`)) return true;
    if (await starter.runningUnderLegacyKey?.({ email: person.email, kind: 'consent' })) return true;
    const state = await consentStateFromLedger(ledger, person.subjectKey);
    const now = Object.entries(state.purposes).flatMap(([purpose, d]) =>
      d ? [`${purpose}=${d.eventId}`] : [],
    );
    const planned = Object.entries(person.inForce).flatMap(([purpose, id]) =>
      id ? [`${purpose}=${id}`] : [],
    );
    return now.sort().join(',') !== planned.sort().join(',');
  }

  return {
    /**
     * The batch's intake, in one activity: per person, either hands their changes to their own consent
     * workflow (a grant, a statistics withdrawal, an open consent workflow, a running erasure), or appends
     * each change to the ledger with its evidence (idempotent by event id, as the per-person path appends)
     * and computes the decisions in force from the ledger (the latest `occurredAt` wins, a withdrawal wins a
     * tie, a withdrawal of one purpose is not undone by a grant of another; for an erased person grants are
     * left out). A person none of whose changes moved a decision is settled: the changes stay as evidence.
     * Retried whole: every step is idempotent.
     */
    async takeInConsentBatch(
      /** `holders`: the batch's workflow id and its parent's (an intake buffer), whose histories seal items. */
      header: { batchId: string; holders?: string[] },
      ...items: ConsentBatchItem[]
    ): Promise<ConsentBatchRoute[]> {
      const holders = header.holders ?? [];
      const people = new Map<string, ConsentBatchItem[]>();
      for (const item of items) people.set(item.subjectKey, [...(people.get(item.subjectKey) ?? []), item]);
      const routes = new Map<string, ConsentBatchRoute>();
      const namesUntil = Date.now() + namesBudgetMs;
      let namesUnread = 0;
      await eachLimited([...people], intakeConcurrency, async ([subjectKey, mine]) => {
        const eventIds = mine.map((i) => i.change.eventId);
        // An erased person's withdrawal still goes to the tools, under a data key minted for this batch: it
        // goes as the per-person path's does (recordConsentChange), once the batch, its buffer and the
        // person's own runs have closed, or the address would stay readable in their histories.
        if (await ledger.getTombstone(subjectKey)) {
          await starter.shredWhenClosed?.({
            subjectKey,
            requestId: `batch-${header.batchId}`,
            before: new Date().toISOString(),
            holders,
          });
        }
        const reason = await needsPersonPath(subjectKey, mine);
        if (reason) {
          await handToPerson(mine, holders);
          routes.set(subjectKey, { subjectKey, route: 'person', eventIds, reason });
          return;
        }
        const email = mine[0]?.email ?? '';
        let names: string[] | undefined = [];
        if (mine.some((i) => i.change.evidence.note)) {
          const left = namesUntil - Date.now();
          names = left > 0 ? await crmNamesOf(email, Math.min(left, namesPerPersonMs)) : undefined;
          if (!names) {
            // Its own workflow reads the names before it records the note: nothing is kept unredacted.
            namesUnread++;
            await handToPerson(mine, holders);
            routes.set(subjectKey, {
              subjectKey,
              route: 'person',
              eventIds,
              reason: "the CRM's names, to redact a note with, could not be read in time",
            });
            return;
          }
        }
        let keptNone = false;
        for (const { change } of mine) {
          const { note } = change.evidence;
          const appended = await ledger.appendConsentEvent({
            id: change.eventId,
            subjectKey,
            purpose: change.purpose,
            decision: change.decision,
            occurredAt: change.occurredAt,
            recordedAt: change.recordedAt,
            source: change.source,
            evidence: note
              ? { ...change.evidence, note: redactText(note, { email, names }) }
              : change.evidence,
          });
          if (appended.skipped === 'not_kept_after_erasure') keptNone = true;
        }
        if (keptNone) {
          // Every system of the person was erased: the ledger keeps nothing, and the person's workflow still
          // writes the withdrawal to any tool that holds them again.
          await handToPerson(mine, holders);
          routes.set(subjectKey, {
            subjectKey,
            route: 'person',
            eventIds,
            reason: 'the person was erased from every system; the ledger keeps no copy',
          });
          return;
        }
        const state = await consentStateFromLedger(ledger, subjectKey);
        const inForce = Object.fromEntries(
          Object.entries(state.purposes).map(([purpose, d]) => [purpose, d?.eventId]),
        ) as Partial<Record<Purpose, string>>;
        const changed = (Object.keys(inForce) as Purpose[]).filter((p) =>
          eventIds.includes(inForce[p] ?? ''),
        );
        if (changed.length === 0) {
          routes.set(subjectKey, {
            subjectKey,
            route: 'settled',
            eventIds,
            reason: 'superseded: a later change is in force',
          });
          return;
        }
        const decisions: DecisionsInForce = Object.fromEntries(
          Object.entries(state.purposes).flatMap(([purpose, d]) =>
            !d || (state.erased && d.decision === 'granted')
              ? []
              : [[purpose, { decision: d.decision, hasEvidence: d.hasEvidence ?? false }]],
          ),
        );
        routes.set(subjectKey, { subjectKey, route: 'bulk', eventIds, decisions, changed, inForce });
      });
      const result = [...people.keys()].map((key) => routes.get(key) as ConsentBatchRoute);
      logger.info(
        {
          batchId: header.batchId,
          people: result.length,
          bulk: result.filter((r) => r.route === 'bulk').length,
          person: result.filter((r) => r.route === 'person').length,
          ...(namesUnread > 0 ? { namesUnread } : {}),
        },
        'consent batch taken in',
      );
      return result;
    },

    /**
     * Writes the people's states to one system with the vendor's batch calls: reads and plans each person
     * (the connector's planConsentBatch), sends every planned write in the vendor's batches
     * (writeConsentBatch), and records each person whose writes all applied in the ledger exactly as the
     * per-person path does. A person the bulk write cannot serve, or one of whose writes failed, was not
     * found or created a member, is answered `handOff` with why: the workflow hands them to their own
     * consent workflow, whose retries and operator gate apply. A failure of a whole vendor call fails the
     * activity, which Temporal retries (every write is idempotent).
     */
    async applyConsentBatchInSystem(
      header: { batchId: string; system: BulkSystem },
      ...people: BulkPersonState[]
    ): Promise<BulkPersonOutcome[]> {
      const { system, batchId } = header;
      const connector = connectors[system];
      if (!connector?.planConsentBatch || !connector.writeConsentBatch) {
        return people.map((p) => ({ subjectKey: p.subjectKey, handOff: `${system} has no bulk write here` }));
      }
      const { planConsentBatch, writeConsentBatch } = connector;
      // A person whose own workflow took a change since the intake (a later grant through the single route)
      // has a newer state than the batch planned, which its write would overwrite. Checked at every attempt,
      // so a write retried past a vendor's 503 checks again; their own workflow writes the state in force.
      const overtaken = new Set<string>();
      await eachLimited(people, intakeConcurrency, async (person) => {
        if (await overtakenSinceIntake(person)) overtaken.add(person.subjectKey);
      });
      const current = people.filter((p) => !overtaken.has(p.subjectKey));
      const plans = await runVendor(system, 'planConsentBatch', () =>
        planConsentBatch(
          current.map((p) => ({
            key: p.subjectKey,
            subject: { email: p.email, gaClientIds: [], gaUserIds: [] },
            request: { decisions: p.decisions, changed: p.changed },
          })),
        ),
      );
      const writes: BulkConsentWrite[] = plans.flatMap((plan) => ('writes' in plan ? plan.writes : []));
      const outcomes: BulkWriteOutcome[] =
        writes.length === 0
          ? []
          : await runVendor(system, 'writeConsentBatch', () => writeConsentBatch(writes));
      const byKey = new Map<string, BulkWriteOutcome[]>();
      for (const outcome of outcomes) byKey.set(outcome.key, [...(byKey.get(outcome.key) ?? []), outcome]);
      const writtenAt = new Date().toISOString();
      const answers: BulkPersonOutcome[] = [...overtaken].map((subjectKey) => ({
        subjectKey,
        handOff: 'a later change of the person arrived after the batch took them in',
      }));
      // A vendor's words about one person (a plug-in's message quoting the row's name) go into the batch's
      // result, which no erasure shreds: they are redacted of the person's address and CRM names first, and
      // withheld when those names cannot be read, as every workflow's gate does (patch
      // vendor-failure-names-checked): redacted of the address alone they could keep the name.
      const redactedFor = async (person: BulkPersonState, reason: string) => {
        const names = await crmNamesOf(person.email, namesPerPersonMs);
        return names === undefined ? withheldVendorText : redactText(reason, { email: person.email, names });
      };
      for (const [index, plan] of plans.entries()) {
        const person = current[index] as BulkPersonState;
        if ('perPerson' in plan) {
          answers.push({ subjectKey: person.subjectKey, handOff: await redactedFor(person, plan.perPerson) });
          continue;
        }
        const mine = byKey.get(person.subjectKey) ?? [];
        const failed = mine.find((o) => o.outcome !== 'applied' || o.created);
        if (failed) {
          const created = failed.outcome === 'applied' && failed.created === true;
          answers.push({
            subjectKey: person.subjectKey,
            handOff: created
              ? `Mailchimp's batch created a member in audience ${failed.record.container} (it was deleted after the read)`
              : failed.outcome === 'failure'
                ? await redactedFor(person, failed.error.reason)
                : `the ${failed.record.kind} record was ${failed.outcome === 'not_found' ? 'gone' : failed.outcome} at the write`,
            ...(created ? { created: true } : {}),
          });
          continue;
        }
        await recordConsentStateWritten(ledger, {
          subjectKey: person.subjectKey,
          system,
          eventIds: person.inForce,
          result: plan.result,
          writtenAt,
        });
        answers.push({ subjectKey: person.subjectKey, outcome: plan.result.outcome });
      }
      logger.info(
        {
          batchId,
          system,
          people: people.length,
          writes: writes.length,
          handedOff: answers.filter((a) => 'handOff' in a).length,
        },
        'consent batch written',
      );
      return answers;
    },

    /**
     * A few people's buffered changes (workflows/consent-intake-buffer.ts, a window with too few people for a
     * batch), each handed to the person's own consent workflow as a single change is, by its event id and
     * with the time the hub first recorded it. Retried whole: signal-with-start by event id is idempotent.
     */
    async handConsentChangesToPeople(
      /** `holders`: the buffer's workflow id, whose history seals the changes. */
      header: { source: string; holders?: string[] },
      ...items: ConsentBatchItem[]
    ): Promise<number> {
      await handToPerson(items, header.holders ?? []);
      logger.info(
        { source: header.source, changes: items.length },
        'buffered consent changes handed to people',
      );
      return items.length;
    },

    /**
     * Hands people whose bulk write did not serve them in some systems to their own consent workflow
     * (signal-with-start of a reapply for those systems): it reads their decisions in force from the ledger,
     * where the batch put them, and writes them with its own retries and operator gate.
     */
    async handOffConsentBatch(
      header: { batchId: string; reason: string; systems: Record<string, BulkSystem[]> },
      ...people: { subjectKey: string; email: string }[]
    ): Promise<number> {
      for (const person of people) {
        await starter.reapplyConsent({
          subjectKey: person.subjectKey,
          email: person.email,
          systems: header.systems[person.subjectKey] ?? [],
          reason: header.reason,
        });
      }
      logger.info({ batchId: header.batchId, people: people.length }, 'consent batch handed people over');
      return people.length;
    },
  };
}
