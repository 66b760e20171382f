import { condition, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { SubjectIdentifiers } from '../connectors/connector.js';
import type { ErasureRestriction, ErasureTimings } from '../domain/erasure.js';
import type {
  HeldNow,
  HoldArrivedDuringErasure,
  ReleaseReasonCode,
  RestrictionReceipt,
  SystemRestrictionState,
  SystemRestrictionStatus,
} from '../domain/hold.js';
import type { SystemName } from '../domain/systems.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { holdPlacedSignal, holdReleasedSignal } from './erasure-definitions.js';
import type { OperatorGate } from './operator-gate.js';
import { actorOrUnnamed, instantOr, isHoldCode, releaseCodeOr, sentPastCodec } from './signal-input.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];
/** How often a waiting erasure looks in the ledger for a release whose signal it never got. */
const defaultHoldRecheck = '1 day';
const reached: readonly SystemRestrictionStatus[] = [
  'restricted',
  'not_found',
  'not_applicable',
  'erased_before_hold',
  'released_before_restriction',
];

/**
 * Issue 18: a release stops the restriction of every system not restricted yet (its restriction not begun,
 * retried, or waiting for an operator), which the erasure then deletes; the receipt says so per system.
 * Before it: every system was restricted, however early the release came, and deleted after.
 */
export const releaseStopsRestrictionPatch = 'hold-release-stops-restriction';

/**
 * Issue 18: each system's restriction plans the records it restricted for the erasure's deletion, by the id
 * that still finds them (Mailchimp's contact id, Dataverse's row id), and the deletion after the release
 * starts from those instead of a search under the address the erasure began with: a member whose address
 * changed during the hold (an upemail), or a row whose address a CRM user edited, is still erased. Before
 * it: the erasure searched the old address after the release, and reported such a member `not_found`.
 */
export const deleteRestrictedRecordsPatch = 'erasure-deletes-restricted-records';

/**
 * The legal-hold part of an erasure (GDPR Art. 18, Art. 17(3)). When the person is on hold as the erasure
 * begins, every system is restricted instead (Dynamics rows opted out of everything and deactivated,
 * Mailchimp members unsubscribed and tagged; Google Analytics has nothing to restrict), the restriction
 * receipt goes to the ledger, and the erasure waits, durably and for as long as it takes, for the release
 * (`holdReleased`, or the release found in the ledger), after which the erasure deletes as usual.
 * Operator retry and close act on the restriction's systems while it runs, through the erasure's gate.
 */
export class LegalHoldPhase {
  /** Set once the person was found on hold; what the status view and the receipt show. */
  restriction: ErasureRestriction | undefined;
  /**
   * The restrictions of earlier holds in this erasure, oldest first: a hold placed after another was
   * released starts a new restriction, and the earlier one stays in the evidence.
   */
  readonly earlier: ErasureRestriction[] = [];
  /** True while restricted and waiting for the release. */
  waiting = false;
  /** The latest release the erasure was told of (a release counts for holds placed before it). */
  private released: { at: string; by: string; reason: ReleaseReasonCode } | undefined;
  /**
   * Systems whose restriction planned the records it restricted for the erasure's deletion (by the ids that
   * still find them): their deletion after the release starts from those, not from a new search.
   */
  readonly plannedForErasure = new Set<SystemName>();
  /** True while the systems are being restricted: operator actions then apply to these states. */
  active = false;
  /**
   * A hold placed while the erasure runs, once the erasure knows of it (`holdPlaced`, or a delete step
   * that found it in the ledger); cleared when the restriction it caused begins.
   */
  arrived: HeldNow | undefined;

  constructor(
    private readonly context: {
      requestId: string;
      subjectKey: string;
      subject: SubjectIdentifiers;
      timings: ErasureTimings;
      gate: OperatorGate;
      onChange: () => void;
    },
  ) {
    setHandler(holdReleasedSignal, (sent) => {
      // The hub records a release in the ledger and signals it through its codec; a release sent past the
      // codec (straight to Temporal) is none, or a legal hold could be lifted, and the records deleted, with
      // nothing in the ledger to say so. Its other fields are held to the client's shapes (signal-input.ts).
      if (sentPastCodec(sent)) return;
      const releasedAt = instantOr(sent.releasedAt, new Date().toISOString());
      if (!this.released || Date.parse(releasedAt) >= Date.parse(this.released.at)) {
        this.released = {
          at: releasedAt,
          by: actorOrUnnamed(sent.releasedBy),
          reason: releaseCodeOr(sent.reason, 'resolved'),
        };
      }
    });
    // Only erasures on the hold-during-run path act on `arrived` (erasure.ts); no older one got this signal.
    // A hold the hub placed has a code and is in the ledger, which every delete step reads; a signal without
    // a code came past the hub (signal-input.ts) and its words are not kept.
    setHandler(holdPlacedSignal, (hold) => {
      if (isHoldCode(hold.reason)) {
        this.holdFound({ reason: hold.reason, placedAt: instantOr(hold.placedAt, new Date().toISOString()) });
      }
    });
  }

  /** Notes a hold placed while the erasure runs (from its signal or from a delete step's answer). */
  holdFound(hold: HeldNow): void {
    if (this.active || this.waiting) return;
    // A hold already released by a release this erasure was told of is over.
    if (this.releasedSince(hold)) return;
    this.arrived ??= hold;
  }

  /** The per-system states of the restriction in progress, for the operator updates' validators. */
  get states(): Partial<Record<SystemName, SystemRestrictionState>> {
    return this.active && this.restriction ? this.restriction.systems : {};
  }

  /** Restricts and waits for the release when the person is on hold now; returns at once otherwise. */
  async restrictIfHeld(): Promise<void> {
    const ledger = proxyActivities<Activities>(ledgerActivityOptions);
    const hold = await ledger.loadHold(this.context.subjectKey);
    if (!hold || hold.releasedAt) return;
    await this.restrictAndWait(hold, systems);
  }

  /**
   * A hold that reached the erasure while it was deleting (`arrived`): restricts `toRestrict` (every system
   * whose erasure had not ended erased, not found or submitted), records in the restriction what each
   * system had deleted by then, and waits for the release. Systems left out are `erased_before_hold`.
   */
  async restrictDuringErasure(
    toRestrict: SystemName[],
    deletedBefore: HoldArrivedDuringErasure['deletedBefore'],
  ): Promise<void> {
    const hold = this.arrived;
    if (!hold) throw new Error('no hold arrived');
    await this.restrictAndWait(hold, toRestrict, {
      noticedAt: new Date().toISOString(),
      deletedBefore,
    });
    this.arrived = undefined;
  }

  private releasedSince(hold: { placedAt: string }): boolean {
    return this.released !== undefined && Date.parse(this.released.at) >= Date.parse(hold.placedAt);
  }

  private async restrictAndWait(
    hold: HeldNow,
    toRestrict: readonly SystemName[],
    arrivedDuringErasure?: HoldArrivedDuringErasure,
  ): Promise<void> {
    const { requestId, subjectKey, gate, onChange } = this.context;
    const ledger = proxyActivities<Activities>(ledgerActivityOptions);
    if (this.restriction) this.earlier.push(this.restriction);
    const stopOnRelease = patched(releaseStopsRestrictionPatch);
    const planErasure = patched(deleteRestrictedRecordsPatch);
    const releasedBeforeRestriction = {
      status: 'released_before_restriction' as const,
      note: 'the hold was released before this system was restricted: nothing was restricted here, the erasure deletes it instead',
    };
    const restriction: ErasureRestriction = {
      hold: { reason: hold.reason, placedAt: hold.placedAt },
      systems: Object.fromEntries(
        systems.map((system): [SystemName, SystemRestrictionState] => [
          system,
          toRestrict.includes(system)
            ? { status: 'pending', records: [], attempts: 0 }
            : {
                status: 'erased_before_hold',
                records: [],
                attempts: 0,
                note: 'the erasure of this system had ended before the hold reached it: nothing left to restrict',
              },
        ]),
      ) as Record<SystemName, SystemRestrictionState>,
      ...(arrivedDuringErasure ? { arrivedDuringErasure } : {}),
    };
    this.restriction = restriction;
    this.active = true;
    onChange();

    await Promise.all(
      toRestrict.map(async (system) => {
        const state = restriction.systems[system];
        const released = () => this.releasedSince(hold);
        if (stopOnRelease && released()) {
          Object.assign(state, releasedBeforeRestriction);
          gate.finish(state);
          return;
        }
        const activities = proxyActivities<Activities>(systemActivityOptions(system, this.context.timings));
        const outcome = await gate.run(
          system,
          state,
          () =>
            activities.restrictInSystem({
              system,
              requestId,
              subjectKey,
              subject: this.context.subject,
              ...(stopOnRelease ? { stopIfReleased: { placedAt: hold.placedAt } } : {}),
              ...(planErasure ? { planErasure: true } : {}),
            }),
          stopOnRelease ? released : undefined,
        );
        if (!outcome.done) {
          if (outcome.interrupted) {
            Object.assign(state, releasedBeforeRestriction);
            gate.finish(state);
          }
          return;
        }
        const { value } = outcome;
        if (planErasure && value.recordCount > 0) this.plannedForErasure.add(system);
        Object.assign(state, {
          status: value.outcome,
          records: value.records,
          recordCount: value.recordCount,
          ...(value.note ? { note: value.note } : {}),
        });
        gate.finish(state);
      }),
    );
    this.active = false;
    restriction.restrictedAt = new Date().toISOString();
    restriction.outcome = systems.every((s) => reached.includes(restriction.systems[s].status))
      ? 'restricted'
      : 'restricted_with_failures';
    await ledger.recordRestriction(this.receipt());

    this.waiting = true;
    onChange();
    const recheck = this.context.timings.holdRecheck ?? defaultHoldRecheck;
    // A release that came while the systems were being restricted (or before) ends the wait at once.
    while (!this.releasedSince(hold)) {
      if (await condition(() => this.releasedSince(hold), recheck)) break;
      const now = await ledger.loadHold(subjectKey);
      if (now && !now.releasedAt) continue;
      // Released without a signal reaching this erasure (or the hold was removed): the ledger says when.
      this.released = {
        at: now?.releasedAt ?? new Date().toISOString(),
        by: now?.releasedBy ?? 'unknown',
        reason: now?.releaseReason ?? 'resolved',
      };
    }
    restriction.released = this.released;
    this.waiting = false;
    await ledger.recordRestriction(this.receipt());
    onChange();
  }

  /**
   * The restriction as the erasure's status and receipt show it: the latest, with the earlier holds'
   * restrictions in it (`earlierRestrictions`); undefined when the person was never found on hold.
   */
  get evidence(): ErasureRestriction | undefined {
    if (!this.restriction) return undefined;
    return this.earlier.length > 0
      ? { ...this.restriction, earlierRestrictions: this.earlierForReceipt() }
      : this.restriction;
  }

  /** The earlier restrictions as a receipt keeps them (each one had ended, so each has its time and outcome). */
  earlierForReceipt(): NonNullable<RestrictionReceipt['earlierRestrictions']> {
    return this.earlier.map(({ earlierRestrictions: _nested, ...earlier }) => ({
      ...earlier,
      restrictedAt: earlier.restrictedAt ?? '',
      outcome: earlier.outcome ?? 'restricted_with_failures',
    }));
  }

  private receipt() {
    const restriction = this.restriction;
    if (!restriction?.restrictedAt || !restriction.outcome) throw new Error('no restriction to record');
    return {
      ...restriction,
      ...(this.earlier.length > 0 ? { earlierRestrictions: this.earlierForReceipt() } : {}),
      requestId: this.context.requestId,
      subjectKey: this.context.subjectKey,
      restrictedAt: restriction.restrictedAt,
      outcome: restriction.outcome,
    };
  }
}
