/** Hard deadlines for probes: a hung service must give "unhealthy", never a hung cycle. */

/** Thrown when a probe step passes its deadline. */
export class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what}: no answer within ${timeoutMs} ms`);
  }
}

/**
 * Resolves with `work`, or rejects with ProbeTimeoutError after `ms`. The timer is unref'd and
 * cleared, so it never keeps the process alive. `work` is not cancelled here: callers also give
 * their clients their own timeouts and close them in `finally`.
 *
 * @example
 *   await withDeadline(client.query('SELECT 1'), 1000, 'postgres');
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Milliseconds elapsed since `start` (from performance.now()), rounded to 0.1 ms. */
export function elapsedMs(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
