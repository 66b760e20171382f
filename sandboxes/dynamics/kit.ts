import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { demoPeople } from '../demo-people.js';
import type { VendorSandboxKit } from '../framework/sandbox-kit.js';
import {
  type DynamicsSandboxOptions,
  type DynamicsSeed,
  type DynamicsStore,
  dynamicsSandbox,
} from './sandbox.js';

const credentialsSchema = z.object({
  tenantId: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});

/** Demo contacts and leads from dev/demo-people.ts, each in the email column the demo person names. */
function demoSeed(): DynamicsSeed {
  const seed = {
    contacts: [] as Record<string, string | boolean>[],
    leads: [] as Record<string, string | boolean>[],
  };
  for (const person of demoPeople) {
    for (const place of person.dynamics) {
      const row: Record<string, string | boolean> = {
        firstname: person.firstName,
        lastname: person.lastName,
        fullname: `${person.firstName} ${person.lastName}`,
        [`emailaddress${place.emailColumn}`]: person.email,
        ...(person.gaClientId ? { new_gaclientid: person.gaClientId } : {}),
      };
      if (place.entity === 'lead') seed.leads.push({ ...row, companyname: person.company });
      else seed.contacts.push(row);
    }
  }
  return seed;
}

export const dynamicsSandboxKit: VendorSandboxKit<DynamicsStore, DynamicsSeed, DynamicsSandboxOptions> = {
  definition: dynamicsSandbox,
  demoSeed,
  devCredentials(dataDir) {
    const dir = join(dataDir, 'sandboxes', 'dynamics');
    const file = join(dir, 'credentials.json');
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const made = {
        tenantId: randomUUID(),
        clientId: randomUUID(),
        clientSecret: randomBytes(30).toString('base64url'),
      };
      writeFileSync(file, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600 });
    }
    // A file copied in from elsewhere may have wider permissions; the secret stays readable by us alone.
    chmodSync(file, 0o600);
    const credentials = credentialsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    return {
      options: { ...credentials },
      env: (sandboxUrl) => ({
        DYNAMICS_URL: sandboxUrl,
        DYNAMICS_AUTHORITY_HOST: sandboxUrl,
        DYNAMICS_TENANT_ID: credentials.tenantId,
        DYNAMICS_CLIENT_ID: credentials.clientId,
        DYNAMICS_CLIENT_SECRET: credentials.clientSecret,
      }),
    };
  },
  realVendorVariable: 'DYNAMICS_URL',
};
