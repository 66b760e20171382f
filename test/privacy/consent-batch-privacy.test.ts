import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal as proto } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withheldBatchWords } from '../../activities/vendor-failure.js';
import { buildConnectors } from '../../connectors/registry.js';
import { type ConsentChangeRequest, consentChangeRequestSchema } from '../../domain/consent.js';
import { consentBatchResult, recordConsentBatch } from '../../hub-client/consent-batch.js';
import { awaitReceipt, requestErasure } from '../../hub-client/erasures.js';
import type { Ledger } from '../../ledger/ledger.js';
import { openLedger } from '../../ledger/open-ledger.js';
import { SubjectEncryptionCodec, subjectKeyIdMetadataKey } from '../../privacy/subject-codec.js';
import { ErasedSubjectKey, SubjectDataKeys } from '../../privacy/subject-data-keys.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { demoAudienceIds } from '../../sandboxes/mailchimp/kit.js';
import { shredWorkflowId } from '../../workflows/shred-subject-keys.js';
import { capturingLogger } from '../support/capturing-logger.js';
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';
import { startVendorSandboxes } from '../support/vendor-sandboxes.js';

const stamp = Date.now();
// Local parts that share no word with the names: only the names the CRM holds can redact them.
const anna = { email: `qx.${stamp}@example.com`, first: 'Anneliese', last: 'Grzybowska' };
const bert = { email: `vw.${stamp}@example.com`, first: 'Bartholomew', last: 'Featherstonehaugh' };
const cleo = { email: `jk.${stamp}@example.com`, first: 'Clementine', last: 'Oyelaran-Whitby' };
const dora = { email: `zp.${stamp}@example.com`, first: 'Dorothea', last: 'Vanterpool' };
const erin = { email: `yt.${stamp}@example.com`, first: 'Erzsebet', last: 'Quillfeather' };

/**
 * Issue 16 on the bulk path (workflows/consent-batch.ts): what a batch keeps of its people. An evidence note
 * is redacted of the CRM's names before the ledger keeps it, as on the per-person path; and erasing one
 * person of a batch leaves their part of the batch's history unreadable to the hub's own codec, while the
 * others' parts still read.
 */
describe('privacy of a consent batch', { timeout: 180_000 }, () => {
  let ledger: Ledger;
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let vendors: Awaited<ReturnType<typeof startVendorSandboxes>>;
  let worker: { stop(): Promise<void> };
  const logs = capturingLogger();
  let batchId: string;
  let keys: Record<string, string>;

  /** A history's payloads through the hub's own codec: those that read, and how many a shred made unreadable. */
  async function decodedHistory(
    workflowId: string,
    only: (event: proto.api.history.v1.IHistoryEvent) => boolean = () => true,
  ): Promise<{ readable: string[]; shredded: number }> {
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const payloads: Payload[] = [];
    const visit = (value: unknown): void => {
      if (!value || typeof value !== 'object') return;
      if (Array.isArray(value)) value.forEach(visit);
      else if ('metadata' in value && 'data' in value) payloads.push(value as Payload);
      else Object.values(value).forEach(visit);
    };
    visit((history.events ?? []).filter(only));
    const codec = new SubjectEncryptionCodec(
      temporal.secrets.encryptionKeys,
      new SubjectDataKeys(ledger, temporal.secrets.encryptionKeys),
    );
    const readable: string[] = [];
    let shredded = 0;
    for (const payload of payloads) {
      try {
        const [decoded] = await codec.decode([payload]);
        readable.push(JSON.stringify(defaultPayloadConverter.fromPayload(decoded as Payload)));
      } catch (error) {
        expect(error).toBeInstanceOf(ErasedSubjectKey);
        expect(payload.metadata?.[subjectKeyIdMetadataKey]).toBeDefined();
        shredded++;
      }
    }
    return { readable, shredded };
  }

  const optOut = (email: string, note: string): ConsentChangeRequest =>
    consentChangeRequestSchema.parse({
      email,
      purpose: 'marketing_email',
      decision: 'withdrawn',
      occurredAt: new Date().toISOString(),
      source: 'batch-import',
      evidence: { requestRef: `ticket-${stamp}`, note },
    });

  beforeAll(async () => {
    ledger = await openLedger(
      { dataDir: mkdtempSync(join(tmpdir(), 'consent-batch-privacy-')) },
      logs.logger,
    );
    temporal = await connectTestTemporal('consent-batch-privacy', { subjectKeyLedger: ledger });
    vendors = await startVendorSandboxes();
    const { connectors } = buildConnectors({ ...process.env, ...vendors.env }, logs.logger);
    worker = await temporal.startWorker({ connectors, ledger, logger: logs.logger });
    await vendors.dynamics.control.seed({
      contacts: [anna, bert, cleo, dora, erin].map((p) => ({
        firstname: p.first,
        lastname: p.last,
        emailaddress1: p.email,
      })),
    });
    await vendors.mailchimp.control.seed({
      lists: [
        {
          id: demoAudienceIds.newsletter,
          name: 'Newsletter',
          members: [{ email_address: erin.email, status: 'subscribed' }],
        },
      ],
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await vendors?.close();
    await temporal?.close();
    await ledger?.close();
  });

  it("redacts the CRM's names from each batch item's evidence note before the ledger keeps it", async () => {
    const accepted = await recordConsentBatch(
      temporal.context(),
      [
        optOut(anna.email, `letter signed ${anna.first} ${anna.last.toUpperCase()}`),
        optOut(bert.email, `phoned by ${bert.first.toLowerCase()} ${bert.last}`),
      ].map((change, index) => ({ index, change })),
      { ledger },
    );
    ({ batchId } = accepted);
    keys = Object.fromEntries(accepted.accepted.map((a) => [a.index === 0 ? 'anna' : 'bert', a.subjectKey]));
    const result = await consentBatchResult(temporal.context(), batchId);
    expect(result.results.map((r) => r.route)).toEqual(['bulk', 'bulk']);
    const notes = [
      ...(await ledger.listConsentEvents(keys.anna as string)),
      ...(await ledger.listConsentEvents(keys.bert as string)),
    ].map((event) => event.evidence.note);
    expect(notes).toEqual(['letter signed [name] [name]', 'phoned by [name] [name]']);
    const logged = logs.lines.join('\n').toLowerCase();
    for (const p of [anna, bert]) {
      for (const needle of [p.email, p.first, p.last]) expect(logged).not.toContain(needle.toLowerCase());
    }
  });

  it("redacts the person's address and CRM names from a Dataverse error that quotes them, in the batch's result, history and logs", async () => {
    const contacts = (await vendors.dynamics.control.state<{ contacts: Record<string, unknown>[] }>())
      .contacts;
    const id = contacts.find((c) => c.emailaddress1 === cleo.email)?.contactid as string;
    // As a plug-in's message would: the $batch part for Cleo's row answers 400 quoting her name and address.
    await vendors.dynamics.control.fail({
      method: 'PATCH',
      path: `contacts\\(${id}\\)`,
      status: 400,
      count: 5,
      message: `Plug-in refused ${cleo.first} ${cleo.last.toUpperCase()} <${cleo.email.toUpperCase()}>`,
    });
    const accepted = await recordConsentBatch(
      temporal.context(),
      [{ index: 0, change: optOut(cleo.email, 'unsubscribe link') }],
      { ledger },
    );
    const result = await consentBatchResult(temporal.context(), accepted.batchId);
    const reason = result.results[0]?.handedOff?.dynamics ?? '';
    // The operator still reads what Dataverse said, without the person.
    expect(reason).toContain('Plug-in refused [name] [name]');
    const everything = [
      JSON.stringify(result),
      await rawHistoryText(temporal.client, `consent-batch-${accepted.batchId}`),
      logs.lines.join('\n'),
    ]
      .join('\n')
      .toLowerCase();
    for (const needle of [cleo.email, cleo.first, cleo.last])
      expect(everything).not.toContain(needle.toLowerCase());
    await vendors.dynamics.control.clearFaults();
  });

  it("leaves an erased person's part of a batch's history unreadable to the hub's codec, and the others' readable", async () => {
    const context = temporal.context();
    const started = await requestErasure(context, {
      email: anna.email,
      requestedBy: 'privacy-inbox#16',
      requestedAt: new Date().toISOString(),
    });
    expect((await awaitReceipt(context, started)).outcome).toBe('completed');
    const shred = await temporal.client.workflow
      .getHandle(shredWorkflowId(started.subjectKey, started.requestId))
      .result();
    expect(shred.destroyed).toBe(1);

    const workflowId = `consent-batch-${batchId}`;
    const { readable, shredded } = await decodedHistory(workflowId);
    // Anna's item in the start, in the intake's input and in each vendor activity's input.
    expect(shredded).toBeGreaterThanOrEqual(3);
    const text = readable.join('\n').toLowerCase();
    for (const needle of [anna.email, anna.first, anna.last])
      expect(text).not.toContain(needle.toLowerCase());
    // Bert was not erased: his item still reads, so the shred took only Anna's key.
    expect(text).toContain(bert.email);
    const raw = (await rawHistoryText(temporal.client, workflowId)).toLowerCase();
    for (const p of [anna, bert]) {
      for (const needle of [p.email, p.first, p.last]) expect(raw).not.toContain(needle.toLowerCase());
    }
  });
  it("destroys the data keys a batch minted for already-erased people's withdrawals, once the batch has closed", async () => {
    const context = temporal.context();
    // Anna was erased above from every system: the batch hands her withdrawal to her own run. Dora's erasure
    // reached Dynamics only (the rest closed by an operator): her withdrawal is written by the batch itself.
    expect(await ledger.getTombstone(keys.anna as string)).toBeDefined();
    const doraKey = subjectKeyFor(dora.email, temporal.secrets.subjectKeySecret);
    await ledger.recordTombstone({
      subjectKey: doraKey,
      erasedAt: new Date().toISOString(),
      systems: ['dynamics'],
      firstRequestId: `erasure-${stamp}`,
      lastRequestId: `erasure-${stamp}`,
    });
    const accepted = await recordConsentBatch(
      context,
      [optOut(anna.email, 'import'), optOut(dora.email, 'import'), optOut(bert.email, 'import')].map(
        (change, index) => ({ index, change }),
      ),
      { ledger },
    );
    const erased = [keys.anna as string, doraKey];
    for (const key of erased) expect(await ledger.activeSubjectDataKey(key)).toBeDefined();
    const result = await consentBatchResult(context, accepted.batchId);
    expect(result.results.map((r) => r.route)).toEqual(['person', 'bulk', 'bulk']);
    // Anna's own run holds her key too: these tools leave it waiting, so it is ended here, as an operator would.
    await temporal.client.workflow.getHandle(`consent-${keys.anna}`).terminate('test: the run is over');
    const workflowId = `consent-batch-${accepted.batchId}`;
    const batchClosed = await temporal.client.workflow.getHandle(workflowId).describe();
    for (const key of erased) {
      // The shredding looks every second in tests.
      let active = await ledger.activeSubjectDataKey(key);
      for (let i = 0; i < 150 && active; i++) {
        await delay(200);
        active = await ledger.activeSubjectDataKey(key);
      }
      expect(active).toBeUndefined();
    }
    for (const key of erased) {
      // It waited for the batch, whose history a worker may replay until it closes.
      const shred = temporal.client.workflow.getHandle(shredWorkflowId(key, `batch-${accepted.batchId}`));
      // Anna, handed to her own run, also gets that run's shredding, which may destroy her key first.
      const destroyed = (await shred.result()).destroyed;
      if (key === doraKey) expect(destroyed).toBe(1);
      else expect(destroyed).toBeLessThanOrEqual(1);
      expect((await shred.describe()).closeTime?.getTime()).toBeGreaterThanOrEqual(
        batchClosed.closeTime?.getTime() ?? Number.POSITIVE_INFINITY,
      );
    }
    const { readable, shredded } = await decodedHistory(workflowId);
    // Anna's and Dora's items in the start and the intake's input, and Dora's in each vendor activity's input.
    expect(shredded).toBeGreaterThanOrEqual(4);
    const text = readable.join('\n').toLowerCase();
    for (const email of [anna.email, dora.email]) expect(text).not.toContain(email);
    // Bert was never erased: the batch started no shredding of his, and his item still reads.
    expect(text).toContain(bert.email);
    expect(await ledger.activeSubjectDataKey(keys.bert as string)).toBeDefined();
  });
  it("keeps no person's address or name from a whole bulk call the vendor refused, in the batch's decoded history, result and logs", async () => {
    // Each vendor refuses the whole call with words about one of its people (a plug-in's or a validator's).
    const words = `Refused for ${erin.first} ${erin.last.toUpperCase()} (${erin.email})`;
    await vendors.dynamics.control.fail({ method: 'POST', path: '\\$batch', status: 400, message: words });
    await vendors.mailchimp.control.fail({
      method: 'POST',
      path: `/lists/${demoAudienceIds.newsletter}$`,
      status: 400,
      message: words,
    });
    const context = temporal.context();
    const accepted = await recordConsentBatch(
      context,
      [{ index: 0, change: optOut(erin.email, 'unsubscribe link') }],
      { ledger },
    );
    const result = await consentBatchResult(context, accepted.batchId);
    const handedOff = result.results[0]?.handedOff ?? {};
    // The operator still reads which call failed and how, without the vendor's words.
    expect(handedOff.dynamics).toContain('HTTP 400');
    expect(handedOff.dynamics).toContain(withheldBatchWords);
    expect(handedOff.mailchimp).toContain('HTTP 400');
    expect(handedOff.mailchimp).toContain(withheldBatchWords);
    const workflowId = `consent-batch-${accepted.batchId}`;
    // The failures as the hub's codec decodes them: a whole call's failure is sealed under the master key,
    // which no erasure shreds (Erin's own items are sealed under her key and read while she is not erased).
    const failures = await decodedHistory(workflowId, (e) => !!e.activityTaskFailedEventAttributes);
    expect(failures.readable.length).toBeGreaterThanOrEqual(2);
    const everything = [JSON.stringify(result), ...failures.readable, logs.lines.join('\n')]
      .join('\n')
      .toLowerCase();
    expect(everything).toContain('withheld');
    for (const needle of [erin.email, erin.first, erin.last])
      expect(everything).not.toContain(needle.toLowerCase());
    await vendors.dynamics.control.clearFaults();
    await vendors.mailchimp.control.clearFaults();
  });
});
