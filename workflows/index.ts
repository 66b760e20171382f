export { connectorProbeWorkflow } from './connector-probe.js';
export { erasureWorkflow } from './erasure.js';
