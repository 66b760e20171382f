import type { HubConfig } from '../config/hub-config.js';
import type { ConsentClientContext } from '../hub-client/consent.js';
import { connectClient } from '../temporal/connection.js';
import { loadHubConfig } from './load-config.js';

/** Connects the CLI to Temporal with the same data converter as the worker; closes when `use` finishes. */
export async function withHubClient<T>(
  use: (context: ConsentClientContext, config: HubConfig) => Promise<T>,
): Promise<T> {
  const config = loadHubConfig();
  const client = await connectClient(config);
  try {
    const timings = {
      attentionAfter: config.CONSENT_HUB_ATTENTION_AFTER,
      operatorDeadline: config.CONSENT_HUB_OPERATOR_DEADLINE,
      heartbeatTimeout: config.CONSENT_HUB_HEARTBEAT_TIMEOUT,
    };
    return await use(
      {
        client,
        taskQueue: config.CONSENT_HUB_TASK_QUEUE,
        subjectKeySecret: config.CONSENT_HUB_SUBJECT_KEY_SECRET,
        timings,
        consentTimings: { ...timings, idleAfter: config.CONSENT_HUB_SUBJECT_IDLE_AFTER },
      },
      config,
    );
  } finally {
    await client.connection.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}
