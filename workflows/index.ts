export { jobberEventWorkflow } from './event';
export { accountWorkflow } from './account';
export { backfillWorkflow } from './backfill';
export { slackInstallationWorkflow } from './slack-installation';
