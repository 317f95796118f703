/**
 * One-shot health checks of a service (postgres SELECT 1, redis PING, HTTP GET, TCP connect),
 * each bounded by a short timeout, and a loop that waits for the service to answer.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { probePostgres } from '../probes/postgres';
import { probeRedis } from '../probes/redis';
import type { ServiceConfig } from '../../config/schema';

export type ServiceHealth = NonNullable<ServiceConfig['health']>;

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const done = (err?: Error) => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`tcp ${host}:${port}: no answer within ${timeoutMs} ms`)));
    sock.once('connect', () => done());
    sock.once('error', (e) => done(e));
  });
}

/** The health probes' own checks: bounded as a whole (connect, auth, ready check, query). */
async function probeOnce(probe: (url: string, ms: number) => Promise<{ status: string; message: string }>, url: string, timeoutMs: number): Promise<void> {
  const r = await probe(url, timeoutMs);
  if (r.status !== 'healthy') throw new Error(r.message);
}

async function getHttp(url: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  await res.body?.cancel();
  if (res.status >= 500) throw new Error(`GET ${url} answered ${res.status}`);
}

/**
 * Checks a service once; resolves when healthy, rejects with the reason otherwise.
 *
 * @example
 *   await checkServiceHealth({ type: 'redis', url: 'redis://127.0.0.1:6380', host: '127.0.0.1' }, 2000);
 */
export async function checkServiceHealth(h: ServiceHealth, timeoutMs: number): Promise<void> {
  switch (h.type) {
    case 'postgres':
      return probeOnce(probePostgres, h.url ?? `postgresql://${h.host}:${h.port ?? 5432}/postgres`, timeoutMs);
    case 'redis':
      return probeOnce(probeRedis, h.url ?? `redis://${h.host}:${h.port ?? 6379}`, timeoutMs);
    case 'http':
      if (!h.url) throw new Error('health check of type "http" needs a url');
      return getHttp(h.url, timeoutMs);
    case 'tcp':
      if (!h.port) throw new Error('health check of type "tcp" needs a port');
      return tcpConnect(h.host, h.port, timeoutMs);
  }
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
