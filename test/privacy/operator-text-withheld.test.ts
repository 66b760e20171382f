import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withheldTextMarker } from '../../domain/redaction-names.js';
import { awaitReceipt, type ErasureStarted, requestErasure } from '../../hub-client/erasures.js';
import { closeSystemUpdate, erasureStatusQuery } from '../../workflows/erasure-definitions.js';
import { personInCrm } from '../support/crm-people.js';
import { startHubWithVendors } from '../support/hub-with-vendors.js';

/**
 * Issue 16: every operator text an erasure keeps (the reason note given at intake, the notes of requests that
 * joined it, a close reason sent straight to Temporal past the hub's client) goes through one rule: kept
 * redacted of the CRM's names once they are read, withheld when they cannot be.
 */
describe("an erasure's notes and close reasons are withheld while the CRM's names cannot be read", {
  timeout: 180_000,
}, () => {
  let hub: Awaited<ReturnType<typeof startHubWithVendors>>;
  let context: ReturnType<typeof hub.temporal.context>;

  beforeAll(async () => {
    hub = await startHubWithVendors('operator-text-withheld');
    context = hub.temporal.context();
  });
  afterAll(() => hub?.close());

  const lower = (value: unknown) => JSON.stringify(value).toLowerCase();

  /**
   * An erasure (with a note) and a second request (with a note) that joins it, while Dataverse refuses every
   * call (403): Dynamics needs an operator, and the names it holds for the person cannot be read.
   */
  async function erasureWithDynamicsRefusing(first: string, last: string): Promise<ErasureStarted> {
    const email = await personInCrm(hub, { first, last });
    await hub.vendors.dynamics.control.fail({ path: '^/api/data/', status: 403, count: 10_000 });
    const requestedAt = new Date().toISOString();
    const started = await requestErasure(context, {
      email,
      reasonNote: `asked by ${first} ${last} on the phone`,
      requestedBy: 'privacy-inbox#16',
      requestedAt,
    });
    const joined = await requestErasure(context, {
      email,
      reason: 'objection',
      reasonNote: `${first} ${last.toUpperCase()} wrote again`,
      requestedBy: 'privacy-inbox#17',
      requestedAt,
    });
    expect(joined.joined).toBe(true);
    const handle = hub.temporal.client.workflow.getHandle(started.workflowId, started.requestId);
    for (let i = 0; i < 240; i++) {
      const status = await handle.query(erasureStatusQuery);
      if (status.systems.dynamics.status === 'needs_attention') return started;
      await delay(250);
    }
    throw new Error('Dynamics never came to need attention');
  }

  /** Closes Dynamics with an update sent straight to Temporal, as `temporal workflow update` would. */
  async function closeDirectly(started: ErasureStarted, reason: string) {
    await hub.temporal.client.workflow
      .getHandle(started.workflowId, started.requestId)
      .executeUpdate(closeSystemUpdate, { args: [{ system: 'dynamics', reason, operator: 'op-16' }] });
  }

  it("withholds the intake note, a joined request's note and a close reason sent past the hub's client when Dynamics cannot be read, keeping the close's code", async () => {
    const started = await erasureWithDynamicsRefusing('Wilfred', 'Maybury');
    try {
      await closeDirectly(started, 'handled_manually: Wilfred Maybury deleted by hand');
      const receipt = await awaitReceipt(context, started);
      expect(receipt.reasonNote).toBe(withheldTextMarker);
      expect(receipt.joinedRequests?.map((joined) => joined.reasonNote)).toEqual([withheldTextMarker]);
      expect(receipt.operatorActions?.map((action) => action.reason)).toEqual([
        `handled_manually: ${withheldTextMarker}`,
      ]);
      expect(receipt.systems.dynamics.closedReason).toBe(`handled_manually: ${withheldTextMarker}`);
      const stored = await hub.ledger.getReceipt(started.requestId);
      expect(stored?.reasonNote).toBe(withheldTextMarker);
      for (const needle of ['wilfred', 'maybury']) {
        expect(lower(receipt)).not.toContain(needle);
        expect(lower(stored)).not.toContain(needle);
      }
    } finally {
      await hub.vendors.dynamics.control.clearFaults();
    }
  });

  it("redacts the notes and a close reason sent past the hub's client of the CRM's names once Dynamics answers again", async () => {
    const started = await erasureWithDynamicsRefusing('Ottoline', 'Quarrendon');
    await hub.vendors.dynamics.control.clearFaults();
    await closeDirectly(started, 'handled_manually: Ottoline Quarrendon deleted by hand');
    const receipt = await awaitReceipt(context, started);
    expect(receipt.reasonNote).toBe('asked by [name] [name] on the phone');
    expect(receipt.joinedRequests?.map((joined) => joined.reasonNote)).toEqual(['[name] [name] wrote again']);
    expect(receipt.operatorActions?.map((action) => action.reason)).toEqual([
      'handled_manually: [name] [name] deleted by hand',
    ]);
    const stored = await hub.ledger.getReceipt(started.requestId);
    for (const needle of ['ottoline', 'quarrendon']) {
      expect(lower(receipt)).not.toContain(needle);
      expect(lower(stored)).not.toContain(needle);
    }
  });
});
