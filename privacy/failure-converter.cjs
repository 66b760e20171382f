// The failure converter of client, worker and workflows (loaded by path: the workflow bundle and the SDK's
// `require` both need a file). With common attributes encoded, a failure's message and stack trace travel
// as a payload, so the payload codec encrypts them like any other data; the history shows only "Encoded failure".
// A failure marked with its subject (privacy/failure-subject.ts: a call that carried the person's data failed,
// and a vendor's error text may name them) carries the subject key in that payload and in its details, so the
// codec seals them with the person's own data key (privacy/subject-codec.ts) and their erasure's shred reaches them.
// CommonJS because the SDK loads it with require(), which cannot load the hub's TypeScript ESM sources.
const { DefaultFailureConverter } = require('@temporalio/common');

/** The property (a registered symbol, so no module is shared) that names an error's subject key. */
const failureSubjectKey = Symbol.for('consent-hub.failure-subject-key');
const subjectKeyPattern = /^[0-9a-f]{64}$/;

class SubjectFailureConverter extends DefaultFailureConverter {
  errorToFailure(err, payloadConverter, context) {
    const failure = super.errorToFailure(err, payloadConverter, context);
    const subjectKey = err !== null && typeof err === 'object' ? err[failureSubjectKey] : undefined;
    if (typeof subjectKey !== 'string' || !subjectKeyPattern.test(subjectKey)) return failure;
    const seal = (payload) => {
      const value = payloadConverter.fromPayload(payload, context);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return payload;
      // subjectTextField of privacy/subject-codec.ts.
      return payloadConverter.toPayload({ ...value, subjectKey, subjectText: true }, context);
    };
    if (failure.encodedAttributes) failure.encodedAttributes = seal(failure.encodedAttributes);
    const details = failure.applicationFailureInfo?.details?.payloads;
    if (details?.length) failure.applicationFailureInfo.details = { payloads: details.map(seal) };
    return failure;
  }
}

exports.failureConverter = new SubjectFailureConverter({ encodeCommonAttributes: true });
