import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedCliDir, provideTemporalCli, TemporalCliUnavailable } from '../../temporal/temporal-cli.js';

function fakeBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'temporal');
  writeFileSync(path, '#!/bin/sh\necho fake\n');
  chmodSync(path, 0o755);
  return path;
}

describe('providing the Temporal CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'temporal-cli-'));

  it('prefers TEMPORAL_CLI_PATH over everything else', () => {
    const explicit = fakeBinary(join(root, 'explicit'));
    const onPath = fakeBinary(join(root, 'path'));
    expect(provideTemporalCli({ env: { TEMPORAL_CLI_PATH: explicit, PATH: join(root, 'path') } })).toEqual({
      path: explicit,
      source: 'TEMPORAL_CLI_PATH',
    });
    expect(onPath).not.toBe(explicit);
  });

  it('names the variable when TEMPORAL_CLI_PATH is not executable', () => {
    expect(() => provideTemporalCli({ env: { TEMPORAL_CLI_PATH: join(root, 'missing') } })).toThrow(
      /TEMPORAL_CLI_PATH points to .*missing/,
    );
  });

  it('uses a temporal on PATH next', () => {
    const onPath = fakeBinary(join(root, 'path2'));
    expect(
      provideTemporalCli({ env: { PATH: join(root, 'path2'), XDG_CACHE_HOME: join(root, 'c') } }),
    ).toEqual({
      path: onPath,
      source: 'PATH',
    });
  });

  it('then a cached build keyed by version under the user cache directory', () => {
    const env = { PATH: join(root, 'empty'), XDG_CACHE_HOME: join(root, 'cache') };
    expect(cachedCliDir(env)).toBe(join(root, 'cache', 'consent-hub', 'temporal-cli', 'v1.5.1'));
    const cached = fakeBinary(cachedCliDir(env));
    expect(provideTemporalCli({ env })).toEqual({ path: cached, source: 'cache' });
  });

  it('stops with one sentence naming what to install when nothing works and Go is missing', () => {
    const env = { PATH: join(root, 'empty'), XDG_CACHE_HOME: join(root, 'nocache') };
    let error: unknown;
    try {
      provideTemporalCli({ env });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TemporalCliUnavailable);
    expect((error as Error).message).toMatch(
      /^No Temporal CLI found: install Go .* or set TEMPORAL_CLI_PATH\.$/,
    );
  });
});
