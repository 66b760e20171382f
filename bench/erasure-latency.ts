/**
 * How long one erasure takes end to end against the running embedded setup, with the sandboxes at 0 ms and
 * at 50 ms added latency. Prints figures; asserts nothing.
 *
 *   npm start                                   # in one terminal
 *   eval "$(npx consent-hub env)" && npx tsx bench/erasure-latency.ts [runs per latency, default 5]
 */

import { setTimeout as delay } from 'node:timers/promises';
import { loadHubConfig } from '../cli/load-config.js';
import { readDevJson } from '../dev/dev-json.js';
import { clientContextFor } from '../hub-client/client-context.js';
import { awaitReceipt, requestErasure } from '../hub-client/erasures.js';
import { SandboxClient } from '../sandboxes/framework/sandbox-client.js';
import { connectClient } from '../temporal/connection.js';

const runs = Number(process.argv[2] ?? 5);
const devJson = readDevJson(process.env.CONSENT_HUB_DATA_DIR ?? '.consent-hub');
const dynamics = new SandboxClient(devJson.sandboxes.dynamics ?? '');
const mailchimp = new SandboxClient(devJson.sandboxes.mailchimp ?? '');
const google = new SandboxClient(devJson.sandboxes.google ?? '');
const config = loadHubConfig();
const client = await connectClient(config);
const context = clientContextFor(client, config);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

for (const latency of [0, 50]) {
  await Promise.all([dynamics, mailchimp, google].map((sandbox) => sandbox.setLatency(latency)));
  const wall: number[] = [];
  const inWorkflow: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Google is paced at 1.5 deletions a second per property across the worker: erasures back to back
    // would measure that queue, not an erasure.
    await delay(1500);
    const email = `bench.${latency}.${Date.now()}.${i}@example.com`;
    await dynamics.seed({
      contacts: [
        { firstname: 'Bench', lastname: 'Person', emailaddress1: email, new_gaclientid: `42.${Date.now()}` },
      ],
    });
    await mailchimp.seed({
      lists: [
        {
          id: 'a1b2c3d4e5',
          name: 'Phoniro Newsletter',
          members: [{ email_address: email, status: 'subscribed' }],
        },
      ],
    });
    const started = performance.now();
    const receipt = await awaitReceipt(
      context,
      await requestErasure(context, { email, requestedBy: 'bench', requestedAt: new Date().toISOString() }),
    );
    wall.push(performance.now() - started);
    inWorkflow.push(Date.parse(receipt.completedAt) - Date.parse(receipt.requestedAt));
    if (receipt.outcome !== 'completed') throw new Error(`erasure ended ${receipt.outcome}`);
  }
  process.stdout.write(
    `latency ${String(latency).padStart(2)} ms: median ${Math.round(median(wall))} ms from request to receipt at the client ` +
      `(${Math.round(median(inWorkflow))} ms requestedAt→completedAt), ${runs} runs, min ${Math.round(Math.min(...wall))} ms, max ${Math.round(Math.max(...wall))} ms\n`,
  );
}
await Promise.all([dynamics, mailchimp, google].map((sandbox) => sandbox.setLatency(0)));
await client.connection.close();
