/**
 * Where and how to reach Temporal, from the same environment variables the Temporal CLI reads,
 * so one set of variables serves `temporal`, the worker and every `autofix` command:
 *
 * | variable | meaning |
 * |---|---|
 * | TEMPORAL_ADDRESS | host:port (default 127.0.0.1:7233) |
 * | TEMPORAL_NAMESPACE | namespace (default `default`) |
 * | TEMPORAL_TLS | `true` to use TLS with the system's CAs and no client certificate |
 * | TEMPORAL_TLS_CA / TEMPORAL_TLS_CA_DATA | server CA certificate (file / PEM) |
 * | TEMPORAL_TLS_CERT / TEMPORAL_TLS_CERT_DATA | client certificate for mTLS (file / PEM) |
 * | TEMPORAL_TLS_KEY / TEMPORAL_TLS_KEY_DATA | its private key (file / PEM) |
 * | TEMPORAL_TLS_SERVER_NAME | name to check the server certificate against (SNI) |
 * | TEMPORAL_API_KEY | API key, sent as a bearer token (implies TLS unless TEMPORAL_TLS=false) |
 */
import { readFileSync } from 'node:fs';

/** TLS settings in the shape both the client and the worker's native connection take. */
export interface TargetTls {
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
  serverNameOverride?: string;
}

/** A Temporal endpoint and how to authenticate to it. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Absent: plain TCP (the local dev server). */
  tls?: TargetTls;
  apiKey?: string;
}

/** Thrown when the TLS or API-key variables are inconsistent or name unreadable files. */
export class TemporalTargetError extends Error {
  override readonly name = 'TemporalTargetError';
}

/** The PEM of `<name>_DATA`, else of the file `<name>` names, else undefined. */
function pem(env: NodeJS.ProcessEnv, name: string): Buffer | undefined {
  const data = env[`${name}_DATA`];
  if (data) return Buffer.from(data);
  const file = env[name];
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TemporalTargetError(`${name}=${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a PEM file`);
  }
}

/**
 * The Temporal endpoint this process uses, from the environment.
 *
 * @example temporalTarget({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_TLS_CA: '/etc/ssl/ca.pem' })
 */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const address = env.TEMPORAL_ADDRESS || '127.0.0.1:7233';
  const namespace = env.TEMPORAL_NAMESPACE || 'default';
  const ca = pem(env, 'TEMPORAL_TLS_CA');
  const crt = pem(env, 'TEMPORAL_TLS_CERT');
  const key = pem(env, 'TEMPORAL_TLS_KEY');
  if (!!crt !== !!key) throw new TemporalTargetError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (mTLS) or neither');
  const serverName = env.TEMPORAL_TLS_SERVER_NAME || undefined;
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  const tlsFlag = env.TEMPORAL_TLS?.toLowerCase();
  const wantTls = tlsFlag === 'true' || tlsFlag === '1' || !!(ca || crt || serverName) || (!!apiKey && tlsFlag !== 'false' && tlsFlag !== '0');
  const tls: TargetTls | undefined = wantTls
    ? {
        ...(ca ? { serverRootCACertificate: ca } : {}),
        ...(crt && key ? { clientCertPair: { crt, key } } : {}),
        ...(serverName ? { serverNameOverride: serverName } : {}),
      }
    : undefined;
  return { address, namespace, ...(tls ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}

/** The options `Connection.connect` and `NativeConnection.connect` share. */
export function connectionOptions(t: TemporalTarget): { address: string; tls?: TargetTls; apiKey?: string } {
  return { address: t.address, ...(t.tls ? { tls: t.tls } : {}), ...(t.apiKey ? { apiKey: t.apiKey } : {}) };
}
