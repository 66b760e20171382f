import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalTls } from '../sandboxes/framework/local-ca.js';
import type { SandboxStore } from '../sandboxes/framework/sandbox-definition.js';
import type { VendorSandboxKit } from '../sandboxes/framework/sandbox-kit.js';
import { startSandbox } from '../sandboxes/framework/sandbox-server.js';
import { sandboxStateFile } from './sandbox-state-file.js';

export interface LaunchedSandbox {
  vendor: string;
  url: string;
  /** True when it started from the demo people (an empty data dir, or --reseed). */
  seeded: boolean;
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface SandboxLauncher {
  vendor: string;
  realVendorVariable: string;
  /**
   * Starts the sandbox with the records the last session left (`<dataDir>/sandboxes/<vendor>/state.v8`), or
   * with the demo people when there are none or `reseed` is set; the records are saved while it runs and
   * when it stops.
   */
  launch(
    dataDir: string,
    tls: LocalTls,
    port: number,
    options?: { reseed?: boolean },
  ): Promise<LaunchedSandbox>;
}

/** Erases a kit's store and seed types behind one launch function, so dev can hold every vendor in one list. */
export function launcherFor<Store extends SandboxStore<Seed>, Seed, Options>(
  kit: VendorSandboxKit<Store, Seed, Options>,
): SandboxLauncher {
  return {
    vendor: kit.definition.vendor,
    realVendorVariable: kit.realVendorVariable,
    async launch(dataDir, tls, port, options = {}) {
      const credentials = kit.devCredentials(dataDir);
      const sandbox = await startSandbox(kit.definition, { tls, port, options: credentials.options });
      const folder = join(dataDir, 'sandboxes', kit.definition.vendor);
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      const statePath = join(folder, 'state.v8');
      if (options.reseed) rmSync(statePath, { force: true });
      const state = sandboxStateFile(statePath, sandbox.store);
      if (!state.loaded) sandbox.store.seed(kit.demoSeed());
      state.save();
      // Saved every second while it changes, so even a killed dev session loses at most a second of it.
      const timer = setInterval(() => state.save(), 1000);
      return {
        vendor: sandbox.vendor,
        url: sandbox.url,
        seeded: !state.loaded,
        env: credentials.env(sandbox.url),
        async close() {
          clearInterval(timer);
          state.save();
          await sandbox.close();
        },
      };
    },
  };
}
