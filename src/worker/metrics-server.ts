/**
 * One /metrics endpoint: autofix's own metrics (prom-client) followed by the Temporal SDK's
 * (worker/runtime metrics, served by the SDK core on an internal port and fetched per scrape).
 */
import http from 'node:http';
import { registry } from '../metrics';

/** Starts the endpoint on `bind` (host:port). Resolves with the server once it listens. */
export async function startMetricsServer(bind: string, sdkMetricsUrl?: string): Promise<http.Server> {
  const [host, port] = splitBind(bind);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    void (async () => {
      let body = await registry.metrics();
      if (sdkMetricsUrl) {
        try {
          const r = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
          if (r.ok) body += `\n# Temporal SDK metrics\n${await r.text()}`;
        } catch {
          body += '\n# Temporal SDK metrics unavailable\n';
        }
      }
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    })().catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Splits "host:port" (IPv6 in brackets allowed). */
export function splitBind(bind: string): [string, number] {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bind);
  if (!m) throw new Error(`not a host:port: "${bind}"`);
  return [m[1] || '127.0.0.1', Number(m[2])];
}
