import { dynamicsSandboxKit } from '../sandboxes/dynamics/kit.js';
import { googleSandboxKit } from '../sandboxes/google/kit.js';
import { mailchimpSandboxKit } from '../sandboxes/mailchimp/kit.js';
import { launcherFor, type SandboxLauncher } from './sandbox-launcher.js';

/** Every vendor sandbox `consent-hub dev` runs, in a fixed order so that each keeps its port across runs. */
export const sandboxLaunchers: SandboxLauncher[] = [
  launcherFor(dynamicsSandboxKit),
  launcherFor(mailchimpSandboxKit),
  launcherFor(googleSandboxKit),
];
