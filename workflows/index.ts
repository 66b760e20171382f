export { connectorProbeWorkflow } from './connector-probe.js';
