export { jobberEventWorkflow } from './event';
