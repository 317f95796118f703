/**
 * `tls_certificates`: the certificate of each https endpoint. Expired, not yet valid, untrusted
 * or for another host → unhealthy; fewer than `tls_expiry_warn_days` days left → degraded.
 * Trust is the process's (system CAs plus NODE_EXTRA_CA_CERTS), as for the app's own clients.
 */
import tls from 'node:tls';
import net from 'node:net';
import type { CheckResult, CheckStatus, Probe } from './types';
import { errorText, worstStatus } from './types';
import { withDeadline } from './deadline';
import type { HttpEndpoint } from './http';
import { probeKind } from '../policy/checks';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Certificate facts of one endpoint. */
export interface CertResult {
  status: CheckStatus;
  message: string;
  url: string;
  days_left?: number;
  valid_to?: string;
  subject?: string;
  issuer?: string;
  authorized?: boolean;
  authorization_error?: string;
}

/** Options of one certificate check. */
export interface TlsProbeOptions {
  timeoutMs: number;
  warnDays: number;
  /** Extra trusted CAs (PEM); default: the process's trust store. */
  ca?: string | Buffer;
}

/** Opens a TLS session without rejecting, so an invalid certificate can still be described. */
function fetchCertificate(host: string, port: number, opts: TlsProbeOptions) {
  return new Promise<{ cert: tls.PeerCertificate; authorized: boolean; error?: string }>(
    (resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: false,
        ...(opts.ca !== undefined ? { ca: [...tls.rootCertificates, opts.ca.toString()] } : {}),
        timeout: opts.timeoutMs,
      });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate();
        const err = socket.authorizationError;
        resolve({ cert, authorized: socket.authorized, error: err ? String(err) : undefined });
        socket.destroy();
      });
      socket.once('timeout', () =>
        socket.destroy(new Error(`TLS handshake timed out after ${opts.timeoutMs} ms`)),
      );
      socket.once('error', reject);
    },
  );
}

/** A certificate name field may repeat (string[]); the first is enough for a report. */
function firstName(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Checks the certificate served at an https URL.
 *
 * @example
 *   await probeTlsEndpoint('https://example.com/', { timeoutMs: 5000, warnDays: 14 });
 *   // { status: 'healthy', days_left: 61.2, valid_to: '2026-...', authorized: true, ... }
 */
export async function probeTlsEndpoint(url: string, opts: TlsProbeOptions): Promise<CertResult> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port || 443);
  } catch (err) {
    return { url, status: 'unknown', message: `bad URL: ${errorText(err)}` };
  }
  try {
    const { cert, authorized, error } = await withDeadline(
      fetchCertificate(host, port, opts),
      opts.timeoutMs,
      `TLS ${host}:${port}`,
    );
    if (!cert || !cert.valid_to)
      return { url, status: 'unhealthy', message: 'no certificate presented', authorized };
    const validTo = new Date(cert.valid_to);
    const daysLeft = Math.round(((validTo.getTime() - Date.now()) / DAY_MS) * 10) / 10;
    const facts = {
      url,
      days_left: daysLeft,
      valid_to: validTo.toISOString(),
      subject: firstName(cert.subject?.CN),
      issuer: firstName(cert.issuer?.CN),
      authorized,
      ...(error ? { authorization_error: error } : {}),
    };
    if (daysLeft <= 0) return { ...facts, status: 'unhealthy', message: `expired ${validTo.toISOString()}` };
    if (!authorized)
      return { ...facts, status: 'unhealthy', message: `invalid certificate: ${error ?? 'not trusted'}` };
    if (daysLeft < opts.warnDays) {
      return { ...facts, status: 'degraded', message: `expires in ${daysLeft} days (< ${opts.warnDays})` };
    }
    return { ...facts, status: 'healthy', message: `valid for ${daysLeft} more days` };
  } catch (err) {
    return { url, status: 'unhealthy', message: `TLS handshake failed: ${errorText(err)}` };
  }
}

/** Checks every https endpoint concurrently; results keyed by endpoint name. */
export async function probeTls(
  endpoints: HttpEndpoint[],
  timeoutMs: number,
  ca?: string | Buffer,
): Promise<CheckResult> {
  const https = endpoints.filter((e) => e.url.startsWith('https:'));
  const results = await Promise.all(
    https.map(
      async (e) =>
        [e.name, await probeTlsEndpoint(e.url, { timeoutMs, warnDays: e.tls_expiry_warn_days, ca })] as const,
    ),
  );
  const bad = results.filter(([, r]) => r.status !== 'healthy').map(([n, r]) => `${n}: ${r.message}`);
  return {
    status: worstStatus(results.map(([, r]) => r.status)),
    message: bad.length > 0 ? bad.join('; ') : `${results.length} certificate(s) valid`,
    certificates: Object.fromEntries(results),
  };
}

/** The registered probe: the https endpoints of `health_checks.http` (same interval/timeout). */
export const tlsProbe: Probe = {
  ...probeKind('tls'),
  applies: (c) => c.health_checks.http.endpoints.some((e) => e.url.startsWith('https:')),
  run: ({ config, timeoutMs }) => probeTls(config.health_checks.http.endpoints, timeoutMs),
};
