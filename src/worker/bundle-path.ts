/** Where `npm run build` writes the pre-built workflow bundle (dist/workflow-bundle.js). */
import path from 'node:path';

export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');
