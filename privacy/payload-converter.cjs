// The payload converter of client, worker and workflows (loaded by path: the workflow bundle and the SDK's
// `require` both need a file). It converts as the SDK's default does, and marks a value whose payload was
// never encrypted (the codec's decode says so in the metadata, privacy/encryption-codec.ts): a value sent past
// the hub's codec sits in the history in clear, where no shred reaches it, so the workflows' update
// validators refuse it (workflows/operator-gate.ts), and nothing of it is recorded. The mark is a registered
// symbol, not enumerable: no spread, JSON or equality sees it, and replays (validators do not run then)
// go as they were recorded. CommonJS because the SDK loads it with require().
const { defaultPayloadConverter } = require('@temporalio/common');

/** unencodedMetadataKey of privacy/encryption-codec.ts. */
const unencodedMetadataKey = 'consent-hub-unencoded';
const sentUnencoded = Symbol.for('consent-hub.sent-unencoded');

exports.payloadConverter = {
  toPayload(value, ...rest) {
    return defaultPayloadConverter.toPayload(value, ...rest);
  },
  fromPayload(payload, ...rest) {
    const value = defaultPayloadConverter.fromPayload(payload, ...rest);
    if (
      payload.metadata?.[unencodedMetadataKey] &&
      value !== null &&
      typeof value === 'object' &&
      Object.isExtensible(value)
    )
      Object.defineProperty(value, sentUnencoded, { value: true });
    return value;
  },
};
