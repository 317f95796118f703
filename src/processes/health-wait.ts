/**
 * One-shot health checks of a service (postgres SELECT 1, redis PING, HTTP GET, TCP connect),
 * each bounded by a short timeout, and a loop that waits for the service to answer.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { probePostgres } from '../probes/postgres';
import { probeRedis } from '../probes/redis';
import type { ServiceConfig } from '../config/schema';
import { errorText } from '../probes/types';
import { isDown } from '../probes/availability';

export type ServiceHealth = NonNullable<ServiceConfig['health']>;

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const done = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`no answer within ${timeoutMs} ms`)));
    sock.once('connect', () => done());
    sock.once('error', (e) => done(e));
  });
}

/**
 * What a live probe says about a service, to decide whether interrupting it could help:
 * `healthy` — it passes its check; `answering` — the server itself answered, with an error a
 * restart cannot fix (bad credentials, unknown role or database, too many clients, starting up /
 * in recovery / shutting down, NOAUTH, WRONGPASS, LOADING…), or the probe could not make an
 * attempt (src/probes/availability: not `isDown`); `down` — no answer, a refused or timed-out
 * connection, a 5xx.
 */
export type ServiceState = 'healthy' | 'answering' | 'down';

/** One live probe's verdict and what it saw. */
export interface ServiceProbe {
  state: ServiceState;
  message: string;
}

async function probeHttp(url: string, timeoutMs: number): Promise<ServiceProbe> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return { state: res.status >= 500 ? 'down' : 'healthy', message: `GET ${url} answered ${res.status}` };
  } catch (e) {
    return { state: 'down', message: `GET ${url}: ${errorText(e)}` };
  }
}

/**
 * Probes a service once, live (see `ServiceState`); never throws for an unhealthy service.
 *
 * @example
 *   await probeService({ type: 'redis', url: 'redis://127.0.0.1:6380', host: '127.0.0.1' }, 2000);
 *   // { state: 'down', message: 'redis 127.0.0.1:6380: no PONG, not accepting connections: connect ECONNREFUSED 127.0.0.1:6380' }
 */
export async function probeService(h: ServiceHealth, timeoutMs: number): Promise<ServiceProbe> {
  switch (h.type) {
    case 'postgres': {
      const r = await probePostgres(h.url ?? `postgresql://${h.host}:${h.port ?? 5432}/postgres`, timeoutMs);
      if (r.status === 'healthy') return { state: 'healthy', message: `postgres ${String(r.target)}: SELECT 1 answered` };
      return { state: isDown(r) ? 'down' : 'answering', message: `postgres ${String(r.target)}: ${r.message}` };
    }
    case 'redis': {
      const r = await probeRedis(h.url ?? `redis://${h.host}:${h.port ?? 6379}`, timeoutMs);
      if (r.status === 'healthy') return { state: 'healthy', message: `redis ${String(r.target)}: PONG` };
      return { state: isDown(r) ? 'down' : 'answering', message: `redis ${String(r.target)}: ${r.message}` };
    }
    case 'http':
      if (!h.url) throw new Error('health check of type "http" needs a url');
      return probeHttp(h.url, timeoutMs);
    case 'tcp':
      if (!h.port) throw new Error('health check of type "tcp" needs a port');
      return tcpConnect(h.host, h.port, timeoutMs).then(
        () => ({ state: 'healthy' as const, message: `tcp ${h.host}:${h.port} accepts connections` }),
        (e: Error) => ({ state: 'down' as const, message: `tcp ${h.host}:${h.port}: ${e.message}` }),
      );
  }
}

/**
 * Checks a service once; resolves when healthy, rejects with the reason otherwise.
 *
 * @example
 *   await checkServiceHealth({ type: 'redis', url: 'redis://127.0.0.1:6380', host: '127.0.0.1' }, 2000);
 */
export async function checkServiceHealth(h: ServiceHealth, timeoutMs: number): Promise<void> {
  const r = await probeService(h, timeoutMs);
  if (r.state !== 'healthy') throw new Error(r.message);
}

/**
 * Retries `checkServiceHealth` until it passes or `totalMs` elapsed; returns the attempts made.
 * Throws a plain Error (retryable) with the last failure when the service never answered.
 */
export async function waitForHealth(h: ServiceHealth, totalMs: number, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + totalMs;
  let attempts = 0;
  let last = '';
  for (;;) {
    attempts++;
    const left = deadline - Date.now();
    try {
      await checkServiceHealth(h, Math.max(250, Math.min(3000, left)));
      return attempts;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() + 250 >= deadline) break;
    await sleep(250, undefined, { signal });
  }
  throw new Error(`service did not pass its ${h.type} health check within ${totalMs / 1000} s (${attempts} attempts; last: ${last})`);
}
