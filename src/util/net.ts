/** Small network helpers shared by the worker, the scripts, the benchmarks and the tests. */
import net from 'node:net';

/**
 * A free TCP port on 127.0.0.1 (the OS picks it).
 *
 * @example const port = await freePort(); // e.g. 41873
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * True when a TCP connection to host:port succeeds within `timeoutMs`.
 *
 * @example await canConnect(7233); // true while a Temporal server listens there
 */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
