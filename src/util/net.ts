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
