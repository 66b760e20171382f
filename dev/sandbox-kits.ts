import { dynamicsSandboxKit } from '../connectors/dynamics/sandbox-kit.js';
import { googleSandboxKit } from '../connectors/google/sandbox-kit.js';
import { mailchimpSandboxKit } from '../connectors/mailchimp/sandbox-kit.js';
import { launcherFor, type SandboxLauncher } from './sandbox-launcher.js';

/** Every vendor sandbox `consent-hub dev` runs, in a fixed order so that each keeps its port across runs. */
export const sandboxLaunchers: SandboxLauncher[] = [
  launcherFor(dynamicsSandboxKit),
  launcherFor(mailchimpSandboxKit),
  launcherFor(googleSandboxKit),
];
