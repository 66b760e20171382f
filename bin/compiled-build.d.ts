/** True when root's dist/ is at least as new as every source (.ts, .cjs) and build setting (tsconfig, package-lock.json) and CONSENT_HUB_RUN_SOURCES is not '1' (bin/compiled-build.js). */
export function compiledIsCurrent(root: string, env?: Record<string, string | undefined>): boolean;
