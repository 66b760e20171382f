import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/**
 * The templates sit next to this module in the sources (console/views) and are copied beside the build
 * (the Dockerfile copies console/views); dist/console/ finds them two levels up.
 */
export function consoleViewsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'views'), join(here, '..', '..', 'console', 'views')];
  const found = candidates.find((dir) => existsSync(join(dir, 'layout.eta')));
  if (!found) throw new Error(`console templates not found in ${candidates.join(' or ')}`);
  return found;
}

/** The console's template engine: Eta over console/views, escaping by default, compiled templates cached. */
export function consoleViews(): Eta {
  return new Eta({ views: consoleViewsDir(), cache: true, autoEscape: true, autoTrim: false });
}
