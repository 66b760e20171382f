import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cachedCliDir,
  downloadedCliDir,
  downloadFailureReason,
  provideTemporalCli,
  type TemporalCliDownload,
  TemporalCliUnavailable,
} from '../../temporal/temporal-cli.js';

function fakeBinary(dir: string, name = 'temporal'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho fake\n');
  chmodSync(path, 0o755);
  return path;
}

/** A `go` that logs its arguments and, on `go install`, leaves a `temporal` in GOBIN as the real one would. */
function fakeGo(dir: string): { dir: string; log: string } {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'go.log');
  writeFileSync(
    join(dir, 'go'),
    `#!/bin/sh
echo "$*" >> '${log}'
if [ "$1" = version ]; then echo "go version go1.22.0"; exit 0; fi
if [ "$1" = install ]; then printf '#!/bin/sh\\necho built\\n' > "$GOBIN/temporal"; /bin/chmod 755 "$GOBIN/temporal"; fi
`,
  );
  chmodSync(join(dir, 'go'), 0o755);
  return { dir, log };
}

function goCalls(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return (server.address() as { port: number }).port;
}

describe('providing the Temporal CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'temporal-cli-'));
  let n = 0;
  const fresh = (name: string) => join(root, `${name}-${++n}`);

  it('prefers TEMPORAL_CLI_PATH over everything else', async () => {
    const explicit = fakeBinary(fresh('explicit'));
    const pathDir = fresh('path');
    const onPath = fakeBinary(pathDir);
    expect(await provideTemporalCli({ env: { TEMPORAL_CLI_PATH: explicit, PATH: pathDir } })).toEqual({
      path: explicit,
      source: 'TEMPORAL_CLI_PATH',
    });
    expect(onPath).not.toBe(explicit);
  });

  it('names the variable when TEMPORAL_CLI_PATH is not executable', async () => {
    await expect(provideTemporalCli({ env: { TEMPORAL_CLI_PATH: join(root, 'missing') } })).rejects.toThrow(
      /TEMPORAL_CLI_PATH points to .*missing/,
    );
  });

  it('refuses a directory as TEMPORAL_CLI_PATH with the one-line "not an executable file" message', async () => {
    const dir = fresh('a-directory');
    mkdirSync(dir, { recursive: true });
    const refused = provideTemporalCli({ env: { TEMPORAL_CLI_PATH: dir } });
    await expect(refused).rejects.toThrow(TemporalCliUnavailable);
    await expect(refused).rejects.toThrow(
      new RegExp(`^TEMPORAL_CLI_PATH points to ${dir}, which is not an executable file; fix or unset it\\.$`),
    );
  });

  it('passes over a directory named temporal on PATH and takes the executable file further along', async () => {
    const shadow = fresh('shadow');
    mkdirSync(join(shadow, 'temporal'), { recursive: true });
    const realDir = fresh('real');
    const real = fakeBinary(realDir);
    const env = { PATH: [shadow, realDir].join(delimiter), XDG_CACHE_HOME: fresh('cache') };
    expect(await provideTemporalCli({ env })).toEqual({ path: real, source: 'PATH' });
  });

  it('uses a temporal on PATH next, before the cache', async () => {
    const pathDir = fresh('path');
    const onPath = fakeBinary(pathDir);
    const env = { PATH: pathDir, XDG_CACHE_HOME: fresh('cache') };
    fakeBinary(cachedCliDir(env));
    expect(await provideTemporalCli({ env })).toEqual({ path: onPath, source: 'PATH' });
  });

  it('then a go-built binary cached by CLI version under the user cache directory', async () => {
    const cache = fresh('cache');
    const env = { PATH: fresh('empty'), XDG_CACHE_HOME: cache };
    expect(cachedCliDir(env)).toBe(join(cache, 'consent-hub', 'temporal-cli', 'v1.5.1'));
    const cached = fakeBinary(cachedCliDir(env));
    expect(await provideTemporalCli({ env })).toEqual({ path: cached, source: 'cache' });
  });

  it('or an earlier SDK download, cached under the name the SDK gives it, without downloading again', async () => {
    const env = { PATH: fresh('empty'), XDG_CACHE_HOME: fresh('cache') };
    const cached = fakeBinary(downloadedCliDir(env), 'temporal-sdk-typescript-1.24.0');
    const download: TemporalCliDownload = async () => {
      throw new Error('must not download when the cache has it');
    };
    expect(await provideTemporalCli({ env, download })).toEqual({ path: cached, source: 'cache' });
  });

  it('downloads the way the SDK does before it builds with Go, and does not run Go when that works', async () => {
    const go = fakeGo(fresh('go'));
    const env = { PATH: go.dir, XDG_CACHE_HOME: fresh('cache') };
    const asked: string[] = [];
    const download: TemporalCliDownload = async (dir) => {
      asked.push(dir);
      return fakeBinary(dir, 'temporal-sdk-typescript-1.24.0');
    };
    const cli = await provideTemporalCli({ env, download });
    expect(cli).toEqual({
      path: join(downloadedCliDir(env), 'temporal-sdk-typescript-1.24.0'),
      source: 'download',
    });
    expect(asked).toEqual([downloadedCliDir(env)]);
    expect(goCalls(go.log)).toEqual([]);
  });

  it('falls back to go install when the SDK download cannot reach temporal.download, saying why', async () => {
    // A proxy port nobody listens on: the SDK's HTTP client honours HTTPS_PROXY, so this fails at once,
    // on a machine with internet as on one without.
    const closed = createServer();
    const port = await listen(closed);
    await new Promise((done) => closed.close(done));
    const go = fakeGo(fresh('go'));
    const env = { PATH: go.dir, XDG_CACHE_HOME: fresh('cache'), HTTPS_PROXY: `http://127.0.0.1:${port}` };
    const steps: string[] = [];
    const cli = await provideTemporalCli({ env, onStep: (line) => steps.push(line) });

    expect(cli).toEqual({ path: join(cachedCliDir(env), 'temporal'), source: 'go install' });
    expect(goCalls(go.log)).toEqual(['version', 'install github.com/temporalio/cli/cmd/temporal@v1.5.1']);
    const failedDownload = steps.findIndex((line) =>
      line.includes('SDK download from temporal.download failed'),
    );
    const building = steps.findIndex((line) => line.includes('with go install'));
    expect(failedDownload).toBeGreaterThan(-1);
    expect(steps[failedDownload]).toMatch(/Connection refused|tcp connect error/);
    expect(steps[failedDownload]).not.toContain('\n');
    expect(building).toBeGreaterThan(failedDownload);
  }, 30_000);

  it('gives up on a download that gets no answer after the timeout, and kills what it started', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    const port = await listen(silent);
    try {
      const env = {
        PATH: fresh('empty'),
        XDG_CACHE_HOME: fresh('cache'),
        HTTPS_PROXY: `http://127.0.0.1:${port}`,
      };
      const steps: string[] = [];
      const error = await provideTemporalCli({
        env,
        // Long enough for the download process to start and connect even on a busy machine.
        downloadTimeoutMs: 8_000,
        onStep: (line) => steps.push(line),
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TemporalCliUnavailable);
      expect(steps).toContain(
        'Temporal CLI: SDK download from temporal.download failed: no answer within 8 s',
      );
      // The killed download process group closes its connection to the proxy.
      expect(sockets.length).toBeGreaterThan(0);
      await expect.poll(() => sockets.every((socket) => socket.destroyed || socket.readableEnded)).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => silent.close(done));
    }
  }, 30_000);

  it('stops with one line per failed step and a last line naming what to install', async () => {
    const env = { PATH: fresh('empty'), XDG_CACHE_HOME: fresh('nocache') };
    const download: TemporalCliDownload = async () => {
      throw new Error('dns error: failed to lookup address information');
    };
    const error = await provideTemporalCli({ env, download }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TemporalCliUnavailable);
    const lines = (error as Error).message.split('\n');
    expect(lines).toEqual([
      'TEMPORAL_CLI_PATH: not set.',
      'PATH: no temporal in any of its directories.',
      expect.stringMatching(
        /^cache: neither .*v1\.5\.1\/temporal nor .*temporal-sdk-typescript-1\.24\.0 exists\.$/,
      ),
      'SDK download from temporal.download failed: dns error: failed to lookup address information',
      'go install: no `go` on PATH.',
      expect.stringMatching(/^No Temporal CLI found: install Go .* or set TEMPORAL_CLI_PATH\.$/),
    ]);
  });
});

describe('the reason a failed SDK download gives', () => {
  it('is one line without the repeated request URL', () => {
    const stderr = `warning\n\n${JSON.stringify({
      downloadError:
        'Failed to start ephemeral server: failed to download ephemeral server executable: error sending request for url (https://temporal.download/cli/default?arch=amd64&platform=linux): error sending request for url (https://temporal.download/cli/default?arch=amd64&platform=linux): client error (Connect): dns error: Name or service not known',
    })}\n`;
    expect(downloadFailureReason(stderr)).toBe(
      'Failed to start ephemeral server: failed to download ephemeral server executable: error sending request for url: client error (Connect): dns error: Name or service not known (https://temporal.download/cli/default)',
    );
  });

  it('falls back to the last line the process printed', () => {
    expect(downloadFailureReason('something\nError: Cannot find module x\n')).toBe(
      'Error: Cannot find module x',
    );
  });
});
