/** The workflows this worker registers (bundled at build time into dist/workflow-bundle.js). */
export { autoFixDaemon } from './daemon';
export { remediationSaga } from './saga';
