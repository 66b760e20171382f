import type { LocalTls } from '../sandboxes/framework/local-ca.js';
import type { SandboxStore } from '../sandboxes/framework/sandbox-definition.js';
import type { VendorSandboxKit } from '../sandboxes/framework/sandbox-kit.js';
import { startSandbox } from '../sandboxes/framework/sandbox-server.js';

export interface LaunchedSandbox {
  vendor: string;
  url: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface SandboxLauncher {
  vendor: string;
  realVendorVariable: string;
  launch(dataDir: string, tls: LocalTls, port: number): Promise<LaunchedSandbox>;
}

/** Erases a kit's store and seed types behind one launch function, so dev can hold every vendor in one list. */
export function launcherFor<Store extends SandboxStore<Seed>, Seed, Options>(
  kit: VendorSandboxKit<Store, Seed, Options>,
): SandboxLauncher {
  return {
    vendor: kit.definition.vendor,
    realVendorVariable: kit.realVendorVariable,
    async launch(dataDir, tls, port) {
      const credentials = kit.devCredentials(dataDir);
      const sandbox = await startSandbox(kit.definition, { tls, port, options: credentials.options });
      sandbox.store.seed(kit.demoSeed());
      return {
        vendor: sandbox.vendor,
        url: sandbox.url,
        env: credentials.env(sandbox.url),
        close: sandbox.close,
      };
    },
  };
}
