import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** The Dockerfile's last stage: the image that runs. */
function runtimeStage(): string {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  return dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
}

describe('the image the compose file runs can write its data dir', () => {
  it('creates every CONSENT_HUB_DATA_DIR the compose file mounts a volume on, owned by the user it runs as', () => {
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const stage = runtimeStage();
    const user = /^USER (\S+)$/m.exec(stage)?.[1];
    expect(user, 'the runtime stage names a non-root USER').toBeDefined();
    const dataDirs = [...compose.matchAll(/CONSENT_HUB_DATA_DIR: (\S+)/g)].map((m) => m[1] as string);
    expect(dataDirs.length).toBeGreaterThan(0);
    for (const dir of new Set(dataDirs)) {
      // A named volume mounted where the image has nothing is created root-owned by Docker.
      expect(compose).toMatch(new RegExp(`- [\\w-]+:${dir}\\n`));
      const lines = stage.split('\n');
      const prepared = lines.findIndex(
        (l) =>
          l.startsWith('RUN ') && l.includes(`mkdir -p ${dir}`) && l.includes(`chown ${user}:${user} ${dir}`),
      );
      const becomesUser = lines.findIndex((l) => l.startsWith('USER '));
      expect(prepared, `the runtime stage creates ${dir} owned by ${user}`).toBeGreaterThanOrEqual(0);
      expect(prepared, 'before it switches to that user').toBeLessThan(becomesUser);
    }
  });
});
