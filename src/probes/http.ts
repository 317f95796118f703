/**
 * `http_endpoints`: each configured endpoint answers with an expected status, within the
 * timeout, optionally with a body matching `body_match` and faster than `max_latency_ms`.
 *
 * Per endpoint: unreachable, timed out, unexpected status or body mismatch → unhealthy;
 * slower than `max_latency_ms` (but within the timeout) → degraded. The check is the worst of
 * its endpoints. `reason` says which rule failed so detections can tell a 5xx from the rest.
 */
import type { z } from 'zod';
import type { httpEndpointSchema } from '../config/schema';
import type { CheckResult, CheckStatus, Probe } from './types';
import { errorText, worstStatus } from './types';
import { elapsedMs } from './deadline';
import { probeKind } from '../policy/checks';

export type HttpEndpoint = z.infer<typeof httpEndpointSchema>;

/** Why an endpoint is not healthy. */
export type HttpFailureReason = 'unreachable' | 'timeout' | 'status' | 'body' | 'latency' | 'config';

/** Result of one endpoint. */
export interface EndpointResult {
  status: CheckStatus;
  message: string;
  url: string;
  http_status?: number;
  /** Time to the response headers, ms. */
  latency_ms?: number;
  reason?: HttpFailureReason;
}

/** Bodies are read only up to this many bytes for body_match: enough for a health page. */
const MAX_BODY_BYTES = 1024 * 1024;

/** Reads at most `max` bytes of a body as text, then cancels the rest. */
async function readBody(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < max) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/**
 * A URL's user info as an HTTP Basic `Authorization` header, and the URL without it (fetch
 * refuses URLs with credentials, and the password must not appear in any report).
 */
function splitCredentials(raw: string): { url: string; authorization?: string } {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: raw };
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization };
}

/**
 * Requests one endpoint with a hard timeout (AbortSignal.timeout covers connect, headers and body).
 *
 * @example
 *   await probeEndpoint({ name: 'api', url: 'http://127.0.0.1:5000/health', method: 'GET',
 *     expect_status: [200], tls_expiry_warn_days: 14 }, 5000);
 *   // { status: 'healthy', http_status: 200, latency_ms: 4.1, ... }
 */
export async function probeEndpoint(ep: HttpEndpoint, timeoutMs: number): Promise<EndpointResult> {
  const { url, authorization } = splitCredentials(ep.url);
  // Reports show the URL without its password.
  const base = { url: authorization ? url.replace('://', `://${new URL(ep.url).username}:***@`) : url };
  let bodyRe: RegExp | undefined;
  try {
    bodyRe = ep.body_match !== undefined ? new RegExp(ep.body_match) : undefined;
  } catch (err) {
    return {
      ...base,
      status: 'unknown',
      reason: 'config',
      message: `body_match is not a valid regex: ${errorText(err)}`,
    };
  }
  const start = performance.now();
  try {
    const res = await fetch(url, {
      method: ep.method,
      ...(authorization ? { headers: { authorization } } : {}),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
    const latency = elapsedMs(start);
    const r = { ...base, http_status: res.status, latency_ms: latency };
    const body =
      bodyRe && ep.method === 'GET' ? await readBody(res, MAX_BODY_BYTES) : (await res.body?.cancel(), '');
    if (!ep.expect_status.includes(res.status)) {
      return {
        ...r,
        status: 'unhealthy',
        reason: 'status',
        message: `HTTP ${res.status}, expected ${ep.expect_status.join('|')}`,
      };
    }
    if (bodyRe && !bodyRe.test(body)) {
      return {
        ...r,
        status: 'unhealthy',
        reason: 'body',
        message: `HTTP ${res.status} but body does not match /${ep.body_match}/`,
      };
    }
    if (ep.max_latency_ms !== undefined && latency > ep.max_latency_ms) {
      return {
        ...r,
        status: 'degraded',
        reason: 'latency',
        message: `slow: ${latency} ms > max_latency_ms ${ep.max_latency_ms}`,
      };
    }
    return { ...r, status: 'healthy', message: `HTTP ${res.status} in ${latency} ms` };
  } catch (err) {
    const latency = elapsedMs(start);
    const name = (err as Error)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return {
        ...base,
        status: 'unhealthy',
        reason: 'timeout',
        latency_ms: latency,
        message: `no answer within ${timeoutMs} ms`,
      };
    }
    return {
      ...base,
      status: 'unhealthy',
      reason: 'unreachable',
      latency_ms: latency,
      message: `unreachable: ${errorText(err)}`,
    };
  }
}

/** Probes all endpoints concurrently; per-endpoint results keyed by endpoint name. */
export async function probeHttp(endpoints: HttpEndpoint[], timeoutMs: number): Promise<CheckResult> {
  const results = await Promise.all(
    endpoints.map(async (ep) => [ep.name, await probeEndpoint(ep, timeoutMs)] as const),
  );
  const status = worstStatus(results.map(([, r]) => r.status));
  const bad = results.filter(([, r]) => r.status !== 'healthy').map(([n, r]) => `${n}: ${r.message}`);
  return {
    status,
    message: bad.length > 0 ? bad.join('; ') : `${results.length} endpoint(s) healthy`,
    endpoints: Object.fromEntries(results),
  };
}

/** The registered probe: `health_checks.http`. */
export const httpProbe: Probe = {
  ...probeKind('http'),
  applies: (c) => c.health_checks.http.endpoints.length > 0,
  run: ({ config, timeoutMs }) => probeHttp(config.health_checks.http.endpoints, timeoutMs),
};
