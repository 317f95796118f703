/**
 * Build step: bundles the workflow code once into dist/workflow-bundle.js, so the worker starts
 * in tens of milliseconds instead of running webpack at every start.
 */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from '../src/worker/bundle-path';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) },
  });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
}

main().catch((err) => {
  console.error(`bundling the workflow code failed: ${(err as Error).message}`);
  process.exit(1);
});
