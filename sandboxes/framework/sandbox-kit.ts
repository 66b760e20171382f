import type { SandboxDefinition, SandboxStore } from './sandbox-definition.js';

/**
 * What `consent-hub dev` needs from one vendor to run it locally: the sandbox, the demo records, and the
 * credentials that tie the sandbox and the connector together.
 */
export interface VendorSandboxKit<Store extends SandboxStore<Seed>, Seed, Options> {
  definition: SandboxDefinition<Store, Seed, Options>;
  /** Vendor-shaped demo records, built from dev/demo-people.ts. */
  demoSeed(): Seed;
  /**
   * Creates the vendor's dev credentials in `dataDir` on the first run and reads them on later runs
   * (an API key, a client secret, a service-account key file). Returns the sandbox's options and the
   * connector's environment variables, with production names, pointing at the sandbox's URL.
   */
  devCredentials(dataDir: string): {
    options: Options;
    env(sandboxUrl: string): Record<string, string>;
  };
  /** The environment variable whose presence means "use the real vendor" (DYNAMICS_URL, ...). */
  realVendorVariable: string;
}
