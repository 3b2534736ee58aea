export { jobberEventWorkflow } from './event';
export { accountWorkflow } from './account';
export { backfillWorkflow } from './backfill';
export { jobberRecordWorkflow } from './record';
export { slackInstallationWorkflow } from './slack-installation';
