import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoopConnector } from '../../connectors/noop/noop-connector.js';
import { subjectKeyFor } from '../../privacy/subject-key.js';
import { rawHistoryText } from '../support/history.js';
import { connectTestTemporal } from '../support/temporal.js';

describe('walking skeleton on the real dev server', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    temporal = await connectTestTemporal('probe');
    worker = await temporal.startWorker({ connectors: { noop: createNoopConnector() } });
  });
  afterAll(async () => {
    await worker.stop();
    await temporal.close();
  });

  it('runs a connector through workflow, activity and the shared interface', async () => {
    const email = 'probe.person@example.com';
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    const result = await temporal.client.workflow.execute('connectorProbeWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId: `probe-${subjectKey}`,
      args: [{ system: 'noop', subjectKey, subject: { email, gaClientIds: [], gaUserIds: [] } }],
    });
    expect(result).toEqual({
      // The find result names its subject, so the codec seals it with that person's key (issue 16).
      found: { records: [], gaClientIds: [], gaUserIds: [], subjectKey },
      erased: { outcome: 'not_found', records: [] },
    });
  });

  it('keeps the email and name out of the raw event history: every payload is encrypted', async () => {
    const email = 'Ingrid.Bergman.History@example.com';
    const subjectKey = subjectKeyFor(email, temporal.secrets.subjectKeySecret);
    const workflowId = `probe-${subjectKey}`;
    await temporal.client.workflow.execute('connectorProbeWorkflow', {
      taskQueue: temporal.taskQueue,
      workflowId,
      memo: { requestedBy: 'Ingrid Bergman' },
      args: [{ system: 'noop', subjectKey, subject: { email, gaClientIds: ['111.222'], gaUserIds: [] } }],
    });
    const text = await rawHistoryText(temporal.client, workflowId);
    // The scan sees the history: the workflow type and subject key are there in clear.
    expect(text).toContain('connectorProbeWorkflow');
    expect(text).toContain(subjectKey);
    expect(text).toContain('binary/encrypted');
    for (const needle of [email, email.toLowerCase(), 'Ingrid Bergman', 'Bergman', '111.222']) {
      expect(text.toLowerCase()).not.toContain(needle.toLowerCase());
    }
  });
});
