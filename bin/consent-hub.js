#!/usr/bin/env node
// The CLI runs its TypeScript sources directly through tsx, so `npx consent-hub` works right after
// `npm ci`, with no build step that could leave a stale copy behind.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
