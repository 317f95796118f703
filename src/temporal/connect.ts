/**
 * Connecting to Temporal with errors a person can act on, and registering autofix's search
 * attributes idempotently through the operator service (flags on a persistent dev-server
 * database only act when the namespace is first created).
 */
import { Client, Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { temporal } from '@temporalio/proto';

const GRPC_ALREADY_EXISTS = 6;

/** Address and namespace from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE). */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): { address: string; namespace: string } {
  return { address: env.TEMPORAL_ADDRESS || '127.0.0.1:7233', namespace: env.TEMPORAL_NAMESPACE || 'default' };
}

/** Thrown when the Temporal server cannot be reached. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

/**
 * Connects to Temporal, failing within `timeoutMs` with a message that says what to do.
 *
 * @example const { client, connection } = await connectTemporal(); // TEMPORAL_ADDRESS or 127.0.0.1:7233
 */
export async function connectTemporal(
  target = temporalTarget(),
  timeoutMs = 10_000,
): Promise<{ client: Client; connection: Connection; address: string; namespace: string }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: target.address, connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new TemporalUnreachableError(
      `cannot reach the Temporal server at ${target.address} (${(err as Error).message.split('\n')[0]}). ` +
        (process.env.TEMPORAL_ADDRESS
          ? 'Check TEMPORAL_ADDRESS, or unset it to let `npm start` run a local dev server.'
          : 'Start it with `npm start` (which runs a local dev server), or set TEMPORAL_ADDRESS=host:port.'),
    );
  }
  return { client: new Client({ connection, namespace: target.namespace }), connection, ...target };
}

/** Registers any missing autofix search attributes in `namespace` (no-op when present). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.keys(SEARCH_ATTRIBUTES).filter((n) => !have.has(n));
  if (missing.length === 0) return [];
  const Keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, Keyword])),
    });
  } catch (err) {
    // Another process registered them at the same moment.
    if ((err as { code?: number }).code !== GRPC_ALREADY_EXISTS) throw err;
  }
  return missing;
}
