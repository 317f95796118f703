/**
 * Last resort of provisioning (a user's machine with internet and no Go): the SDK downloads the
 * Temporal CLI itself and runs its dev server. Same database, ports and search attributes as ours.
 */
import type { RunningDevServer } from './dev-server';
import { AutofixHost, AutofixKind, AutofixOutcome, AutofixPattern, AutofixSeverity, AutofixTarget } from '../workflows/search-attributes';

/** Starts the dev server through @temporalio/testing's download (needs internet access). */
export async function startSdkDownloadedServer(o: { dbFile: string; port: number; uiPort: number; ip?: string }): Promise<RunningDevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const ip = o.ip ?? '127.0.0.1';
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      dbFilename: o.dbFile,
      ip,
      port: o.port,
      ui: true,
      uiPort: o.uiPort,
      searchAttributes: [AutofixPattern, AutofixSeverity, AutofixOutcome, AutofixHost, AutofixTarget, AutofixKind],
    },
  });
  return {
    address: `${ip}:${o.port}`,
    uiUrl: `http://${ip}:${o.uiPort}`,
    stop: () => env.teardown(),
  };
}
