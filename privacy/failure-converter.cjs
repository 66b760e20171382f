// The failure converter of client, worker and workflows (loaded by path: the workflow bundle and the SDK's
// `require` both need a file). With common attributes encoded, a failure's message and stack trace travel
// as a payload, so the payload codec encrypts them like any other data; the history shows only "Encoded failure".
// CommonJS because the SDK loads it with require(), which cannot load the hub's TypeScript ESM sources.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
