import type { SandboxLauncher } from './sandbox-launcher.js';

/** Every vendor sandbox `consent-hub dev` runs, in a fixed order so that each keeps its port across runs. */
export const sandboxLaunchers: SandboxLauncher[] = [];
