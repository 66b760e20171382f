import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { SubjectIdentifiers } from '../connectors/connector.js';
import type { ErasureRestriction, ErasureTimings } from '../domain/erasure.js';
import type { ReleaseReasonCode, SystemRestrictionState, SystemRestrictionStatus } from '../domain/hold.js';
import type { SystemName } from '../domain/systems.js';
import { ledgerActivityOptions, systemActivityOptions } from './erasure-activity-options.js';
import { holdReleasedSignal } from './erasure-definitions.js';
import type { OperatorGate } from './operator-gate.js';

const systems: SystemName[] = ['dynamics', 'mailchimp', 'google'];
/** How often a waiting erasure looks in the ledger for a release whose signal it never got. */
const defaultHoldRecheck = '1 day';
const reached: readonly SystemRestrictionStatus[] = ['restricted', 'not_found', 'not_applicable'];

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
  /** True while restricted and waiting for the release. */
  waiting = false;
  private released: { at: string; by: string; reason: ReleaseReasonCode } | undefined;
  /** True while the systems are being restricted: operator actions then apply to these states. */
  active = false;

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
    setHandler(holdReleasedSignal, ({ releasedAt, releasedBy, reason }) => {
      this.released ??= { at: releasedAt, by: releasedBy, reason };
    });
  }

  /** The per-system states of the restriction in progress, for the operator updates' validators. */
  get states(): Partial<Record<SystemName, SystemRestrictionState>> {
    return this.active && this.restriction ? this.restriction.systems : {};
  }

  /** Restricts and waits for the release when the person is on hold now; returns at once otherwise. */
  async restrictIfHeld(): Promise<void> {
    const { requestId, subjectKey, gate, onChange } = this.context;
    const ledger = proxyActivities<Activities>(ledgerActivityOptions);
    const hold = await ledger.loadHold(subjectKey);
    if (!hold || hold.releasedAt) return;
    const restriction: ErasureRestriction = {
      hold: { reason: hold.reason, placedAt: hold.placedAt },
      systems: Object.fromEntries(
        systems.map((system): [SystemName, SystemRestrictionState] => [
          system,
          { status: 'pending', records: [], attempts: 0 },
        ]),
      ) as Record<SystemName, SystemRestrictionState>,
    };
    this.restriction = restriction;
    this.active = true;
    onChange();

    await Promise.all(
      systems.map(async (system) => {
        const state = restriction.systems[system];
        const activities = proxyActivities<Activities>(systemActivityOptions(system, this.context.timings));
        const outcome = await gate.run(system, state, () =>
          activities.restrictInSystem({
            system,
            requestId,
            subjectKey,
            subject: this.context.subject,
          }),
        );
        if (!outcome.done) return;
        const { value } = outcome;
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
    while (!this.released) {
      if (await condition(() => this.released !== undefined, recheck)) break;
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

  private receipt() {
    const restriction = this.restriction;
    if (!restriction?.restrictedAt || !restriction.outcome) throw new Error('no restriction to record');
    return {
      ...restriction,
      requestId: this.context.requestId,
      subjectKey: this.context.subjectKey,
      restrictedAt: restriction.restrictedAt,
      outcome: restriction.outcome,
    };
  }
}
