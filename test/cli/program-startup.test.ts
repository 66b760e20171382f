import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const program = fileURLToPath(new URL('../../cli/program.ts', import.meta.url));

// Loads the CLI program in a fresh Node and lists which vendor SDKs ended up in the CommonJS module cache
// (each is CommonJS, so an ESM import of it lands there too).
const probe = `
import Module from 'node:module';
await import(process.argv[1]);
const loaded = Object.keys(Module._cache);
const sdks = ['googleapis', '@mailchimp/mailchimp_marketing', '@microsoft/microsoft-graph-client'];
process.stdout.write(JSON.stringify(sdks.filter((s) => loaded.some((k) => k.includes('/node_modules/' + s + '/')))));
`;

describe('the CLI program at start', () => {
  it('loads no vendor SDK until a command that talks to a vendor runs, so --version and --help start fast', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', probe, program],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(JSON.parse(out)).toEqual([]);
  });
});
