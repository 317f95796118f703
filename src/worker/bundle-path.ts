/** Where `npm run build` writes the pre-built workflow bundle (dist/workflow-bundle.js). */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');

/**
 * The workflow code a worker or the replayer loads: the pre-built bundle of this build (starts
 * in milliseconds), else the sources (`workflowsPath`, default src/workflows) bundled on the fly.
 *
 * @example Worker.create({ ...workflowCode(), taskQueue, activities })
 */
export function workflowCode(workflowsPath?: string): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  if (!workflowsPath && existsSync(WORKFLOW_BUNDLE_PATH)) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } };
  return { workflowsPath: workflowsPath ?? require.resolve('../workflows') };
}
