/**
 * Bounded concurrency for independent operations on names inside one pinned directory (lstat,
 * unlink): each is one syscall on the libuv thread pool, so a few in flight hide most of the
 * round-trip cost. Order of results is kept.
 */

/** How many such operations are in flight at once. */
export const FS_CONCURRENCY = 16;

/**
 * Maps `items` through `fn`, at most `limit` at a time; results in input order.
 *
 * @example const stats = await mapLimit(names, 16, (n) => dir.lstat(n));
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
