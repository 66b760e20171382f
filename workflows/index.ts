export { accessWorkflow } from './access.js';
export { connectorProbeWorkflow } from './connector-probe.js';
export { consentWorkflow } from './consent.js';
export { consentVerifyWorkflow } from './consent-verify.js';
export { erasureWorkflow } from './erasure.js';
export { reconciliationWorkflow } from './reconciliation.js';
export { rectificationWorkflow } from './rectification.js';
export { shredSubjectKeysWorkflow } from './shred-subject-keys.js';
