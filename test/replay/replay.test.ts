import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../logging/logger.js';
import { dataConverterFor } from '../../privacy/data-converter.js';
import { encryptionKeysSchema } from '../../privacy/encryption-keys.js';
import { installTemporalRuntimeLogger } from '../../temporal/runtime-logger.js';

// The SDK's own log lines go through the hub's logger; only errors are worth printing here.
installTemporalRuntimeLogger(createLogger({ level: 'error', format: 'json' }));

const folder = join(import.meta.dirname, 'histories');
const kinds = ['erasure', 'consent', 'reconciliation'];

function loadHistories() {
  return readdirSync(folder)
    .filter((name) => name.endsWith('.history.pb'))
    .map((name) => ({
      workflowId: name.replace(/\.history\.pb$/, ''),
      history: proto.api.history.v1.History.decode(readFileSync(join(folder, name))),
    }));
}

function replayOptions() {
  const { encryptionKeys } = JSON.parse(
    readFileSync(join(import.meta.dirname, 'replay-keys.json'), 'utf8'),
  ) as {
    encryptionKeys: string;
  };
  return {
    // The same bundle the workers of this test run use: the current workflow code.
    workflowBundle: { codePath: inject('workflowBundlePath') },
    dataConverter: dataConverterFor(encryptionKeysSchema.parse(encryptionKeys)),
    replayName: 'consent-hub-replay',
  };
}

/**
 * Recorded histories of finished workflows (npm run record-replay-histories) replayed against the current
 * workflow code: a change that would break workflows already running (a reordered activity, a removed
 * timer, a new command without a patch) fails here, before it reaches a worker.
 */
describe('workflow histories replay against the current workflow code', () => {
  it('has a history of every kind of workflow', () => {
    expect(
      loadHistories()
        .map((h) => h.workflowId)
        .sort(),
    ).toEqual([...kinds].sort());
  });

  it('replays every recorded history without a nondeterminism error', { timeout: 120_000 }, async () => {
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories(replayOptions(), loadHistories()))
      results.push(result);
    expect(
      results.map((r) => ({ workflowId: r.workflowId, error: r.error ? String(r.error) : undefined })),
    ).toEqual(kinds.sort().map((workflowId) => ({ workflowId, error: undefined })));
  });

  it('fails a history that does not match the code (so the check above can fail)', {
    timeout: 60_000,
  }, async () => {
    const erasure = loadHistories().find((h) => h.workflowId === 'erasure');
    if (!erasure) throw new Error('no erasure history');
    // The erasure's events replayed as a consent workflow: its commands cannot match.
    const started = erasure.history.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.workflowType) throw new Error('no start event');
    started.workflowType.name = 'consentWorkflow';
    await expect(Worker.runReplayHistory(replayOptions(), erasure.history, 'mismatch')).rejects.toThrow();
  });
});
