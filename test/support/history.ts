import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';

/**
 * Every piece of text in a workflow's raw event history as the server stores it: strings as they are, and
 * every byte field (payload data and metadata) decoded as UTF-8 and as base64. A search over this finds an
 * email however the server or UI would show it.
 */
export async function rawHistoryText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const parts: string[] = [];
  const visit = (value: unknown): void => {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') parts.push(value);
    else if (value instanceof Uint8Array) {
      const buffer = Buffer.from(value);
      parts.push(buffer.toString('utf8'), buffer.toString('base64'));
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(history);
  return parts.join('\n');
}

/**
 * The size in bytes of the largest payload in a workflow's history (as stored: encoded, encrypted), with
 * the event type that carried it. Activity results, workflow inputs and results all count.
 */
export async function largestPayload(
  client: Client,
  workflowId: string,
): Promise<{ bytes: number; eventType: string }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  let largest = { bytes: 0, eventType: '' };
  const visit = (value: unknown, eventType: string): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const candidate = value as { metadata?: unknown; data?: unknown };
    if (candidate.metadata && candidate.data instanceof Uint8Array) {
      if (candidate.data.length > largest.bytes) largest = { bytes: candidate.data.length, eventType };
      return;
    }
    for (const inner of Object.values(value)) visit(inner, eventType);
  };
  for (const event of history.events ?? []) visit(event, String(event.eventType));
  return largest;
}

/**
 * The decoded input of every activity a workflow scheduled, in order, with its type and its size as
 * stored (bytes of the encoded, encrypted payload). Decoded with the client's data converter.
 */
export async function activityInputs(
  client: Client,
  workflowId: string,
  dataConverter: { payloadCodecs?: PayloadCodec[] },
): Promise<{ activityType: string; bytes: number; input: unknown }[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const inputs: { activityType: string; bytes: number; input: unknown }[] = [];
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    const payload = scheduled?.input?.payloads?.[0];
    if (!scheduled || !payload) continue;
    let decoded = [payload as Payload];
    for (const codec of [...(dataConverter.payloadCodecs ?? [])].reverse())
      decoded = await codec.decode(decoded);
    inputs.push({
      activityType: String(scheduled.activityType?.name),
      bytes: payload.data?.length ?? 0,
      input: defaultPayloadConverter.fromPayload(decoded[0] as Payload),
    });
  }
  return inputs;
}
