/**
 * Why a connection check (PostgreSQL, Redis) failed — the difference between "restart it" and
 * "tell someone". It is the distinction `pg_isready` makes and a login does not: a server that
 * rejects our password is, for pg_isready, "accepting connections".
 *
 * - `down`: not accepting connections — refused, reset or closed before the server said
 *   anything, no socket file, no answer in time. A restart candidate.
 * - `refusing`: accepting connections but refusing this one — the server itself answered with an
 *   error: authentication failed, no such role or database, too many clients, starting up / in
 *   recovery / shutting down (PostgreSQL); NOAUTH, WRONGPASS, LOADING, max clients (Redis).
 *   A restart cannot fix any of these and makes some worse (crash recovery or a dataset load
 *   starts over, every session is cut): alert only, never a restart.
 * - `probe_error`: the check could not make a proper attempt (unparsable URL, unresolvable host
 *   name, TLS set-up or certificate errors): nothing is known to be wrong with the server, so
 *   alert only.
 *
 * Pure: no I/O. The probes attach a `ConnectionFailure` to their unhealthy results; `isDown` is
 * what anything about to interrupt a service should ask.
 */
import type { CheckResult } from './types';
import { ProbeTimeoutError } from './deadline';

/** The three kinds of connection failure (see the module comment). */
export const CONNECTION_FAILURE_KINDS = ['down', 'refusing', 'probe_error'] as const;
export type ConnectionFailureKind = (typeof CONNECTION_FAILURE_KINDS)[number];

/** The structured reason on an unhealthy connection check result (field `failure`). */
export interface ConnectionFailure {
  kind: ConnectionFailureKind;
  /**
   * What decided it: a SQLSTATE (`28P01`, `53300`, `57P03`, …), the first word of a Redis error
   * reply (`NOAUTH`, `WRONGPASS`, `LOADING`, `ERR`, …), an errno (`ECONNREFUSED`, `ENOENT`,
   * `ECONNRESET`, …), `timeout` or `closed` (the connection ended before any answer).
   */
  code: string;
}

/** Socket calls whose failure means nothing answered at the address (connect, or the link dropped). */
const SOCKET_SYSCALLS = new Set(['connect', 'read', 'write']);
/** errnos that mean the same without a syscall (some clients rethrow them bare). */
const DOWN_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);

/**
 * Classifies a socket-level error: `down` for a failed connect/read/write (refused, no socket
 * file, reset, timed out, unreachable), `probe_error` for a failed name lookup; undefined when
 * `err` is not a socket-level error.
 *
 * @example
 *   classifySocketError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }));
 *   // { kind: 'down', code: 'ECONNREFUSED' }
 */
export function classifySocketError(err: unknown): ConnectionFailure | undefined {
  if (err instanceof ProbeTimeoutError) return { kind: 'down', code: 'timeout' };
  if (!(err instanceof Error)) return undefined;
  const { code, syscall } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string') return undefined;
  if (syscall === 'getaddrinfo' || syscall === 'getaddrinfo_all') return { kind: 'probe_error', code };
  if ((syscall && SOCKET_SYSCALLS.has(syscall)) || DOWN_ERRNOS.has(code)) return { kind: 'down', code };
  return undefined;
}

/** The `failure` a probe attached to `r`, when it is a well-formed one. */
export function connectionFailureOf(r: CheckResult): ConnectionFailure | undefined {
  const f = r.failure as Partial<ConnectionFailure> | undefined;
  if (!f || typeof f !== 'object' || typeof f.code !== 'string') return undefined;
  return (CONNECTION_FAILURE_KINDS as readonly string[]).includes(f.kind as string) ? (f as ConnectionFailure) : undefined;
}

/**
 * True when a check result says the service is not accepting connections: the only state in
 * which restarting it (or killing its processes) can help. An unhealthy result without a
 * classified failure counts as down (e.g. the runner's own deadline passed: nothing answered);
 * healthy, degraded and unknown results never do.
 *
 * @example
 *   isDown(await probePostgres('postgresql://app:wrong@127.0.0.1:5432/app', 5000)); // false: it answered "password authentication failed"
 *   isDown(await probePostgres('postgresql://app@127.0.0.1:1/app', 5000));          // true: ECONNREFUSED
 */
export function isDown(r: CheckResult): boolean {
  if (r.status !== 'unhealthy') return false;
  const f = connectionFailureOf(r);
  return f === undefined || f.kind === 'down';
}

/** The seed's-style message prefix of each kind (pg_isready's wording where it has one). */
export function failureHeadline(kind: ConnectionFailureKind): string {
  switch (kind) {
    case 'down':
      return 'not accepting connections';
    case 'refusing':
      return 'accepting connections but refusing this one';
    case 'probe_error':
      return 'the check could not be made';
  }
}
