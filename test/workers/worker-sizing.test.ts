import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workerSizing } from '../../workers/worker-sizing.js';

describe('worker sizing from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'worker-sizing-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bounds the sticky cache and the task slots by default instead of taking the SDK’s heap-sized cache', () => {
    const sizing = workerSizing({});
    expect(sizing.CONSENT_HUB_MAX_CACHED_WORKFLOWS).toBeGreaterThanOrEqual(
      sizing.CONSENT_HUB_MAX_WORKFLOW_TASKS,
    );
    expect(sizing.CONSENT_HUB_MAX_CACHED_WORKFLOWS).toBeLessThan(2000);
    expect(sizing.CONSENT_HUB_WORKFLOW_BUNDLE).toBeUndefined();
  });

  it('takes an operator’s values and a pre-built workflow bundle that exists', () => {
    const bundle = join(dir, 'workflow-bundle.js');
    writeFileSync(bundle, '// bundle');
    expect(
      workerSizing({
        CONSENT_HUB_MAX_CACHED_WORKFLOWS: '50',
        CONSENT_HUB_MAX_WORKFLOW_TASKS: '4',
        CONSENT_HUB_MAX_LEDGER_ACTIVITIES: '8',
        CONSENT_HUB_WORKFLOW_BUNDLE: bundle,
      }),
    ).toEqual({
      CONSENT_HUB_MAX_CACHED_WORKFLOWS: 50,
      CONSENT_HUB_MAX_WORKFLOW_TASKS: 4,
      CONSENT_HUB_MAX_LEDGER_ACTIVITIES: 8,
      CONSENT_HUB_WORKFLOW_BUNDLE: bundle,
    });
  });

  it.each([
    ['CONSENT_HUB_MAX_CACHED_WORKFLOWS', '1', 'at least 2'],
    ['CONSENT_HUB_MAX_WORKFLOW_TASKS', 'lots', 'whole number'],
    ['CONSENT_HUB_MAX_LEDGER_ACTIVITIES', '2.5', 'whole number'],
    ['CONSENT_HUB_WORKFLOW_BUNDLE', '/nonexistent/workflow-bundle.js', 'names no file'],
  ])('refuses %s=%s with an error naming the variable', (name, value, reason) => {
    expect(() => workerSizing({ [name]: value })).toThrow(reason);
    expect(() => workerSizing({ [name]: value })).toThrow(name);
  });
});
