/**
 * Connecting to Temporal with errors a person can act on, and registering autofix's search
 * attributes idempotently through the operator service (flags on a persistent dev-server
 * database only act when the namespace is first created).
 */
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { temporal } from '@temporalio/proto';
import { connectionOptions, temporalTarget, type TemporalTarget } from './target';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../config/load';
import { formatLocalTime } from '../logging/auto-fix-log';
import { formatDuration } from '../util/duration';
import { readEngineState } from './engine-state';

const GRPC_ALREADY_EXISTS = 6;

export { temporalTarget, type TemporalTarget } from './target';

/** Thrown when the Temporal server cannot be reached. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

const GRPC_UNAVAILABLE = 14;

/**
 * Throws at once when nothing listens on a host:port address (connection refused), instead of
 * letting the gRPC connect wait its whole deadline; a slow or filtered network falls through.
 */
function failFastIfRefused(address: string): Promise<void> {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!m) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: m[1] as string, port: Number(m[2]) });
    const done = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(2000, () => done());
    sock.once('connect', () => done());
    sock.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? new Error(`nothing accepts connections on ${address}`) : undefined));
  });
}

/** True for a gRPC UNAVAILABLE error (the server went away), also when wrapped by the SDK. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return e?.code === GRPC_UNAVAILABLE || e?.cause?.code === GRPC_UNAVAILABLE;
}

/**
 * The error for an engine that does not answer: the address, since when (if a live worker saw it
 * go), the cause's first line and what to do.
 */
export function unreachable(address: string, cause: unknown): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `cannot reach the Temporal server at ${address}${outageNote(address)} (${String((cause as Error)?.message ?? cause).split('\n')[0]}). ` +
      (process.env.TEMPORAL_ADDRESS
        ? 'Check TEMPORAL_ADDRESS, or unset it to let `npm start` run a local dev server.'
        : 'Start it with `npm start` (which runs a local dev server), or set TEMPORAL_ADDRESS=host:port.'),
    { cause },
  );
}

/**
 * Connects to Temporal, failing within `timeoutMs` with a message that says what to do.
 *
 * @example const { client, connection } = await connectTemporal(); // TEMPORAL_ADDRESS or 127.0.0.1:7233
 */
export async function connectTemporal(
  target: TemporalTarget = temporalTarget(),
  timeoutMs = 10_000,
): Promise<{ client: Client; connection: Connection; address: string; namespace: string }> {
  let connection: Connection;
  try {
    await failFastIfRefused(target.address);
    connection = await Connection.connect({ ...connectionOptions(target), connectTimeout: timeoutMs });
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw unreachable(target.address, err);
  }
  return { client: new Client({ connection, namespace: target.namespace }), connection, address: target.address, namespace: target.namespace };
}

/**
 * " since <local time> (<how long>, as the worker pid N sees it)" when a live worker recorded the
 * engine at `address` unreachable (state file under the config's data_dir), else "". The config
 * is AUTOFIX_CONFIG or the default one; when it does not load, there is nothing to add.
 */
export function outageNote(address: string, env: NodeJS.ProcessEnv = process.env, now = Date.now()): string {
  let dataDir: string;
  try {
    dataDir = loadConfig(env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH, env).daemon.data_dir;
  } catch {
    return '';
  }
  const s = readEngineState(dataDir, address);
  if (!s || s.reachable || !s.unreachableSince) return '';
  return ` since ${formatLocalTime(new Date(s.unreachableSince))} (${formatDuration(now - s.unreachableSince)}, as the worker pid ${s.pid} sees it)`;
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
