/**
 * What the access-log view (src/detection/access-line.ts) costs classification, measured against
 * the classification it is part of, in the same run.
 *
 *   node dist/bench/access-view.js [--lines 200000] [--rounds 9]
 *
 * Lines: combined-format access lines whose URL, referer and user agent carry error words. On the
 * 4xx/5xx set, http_4xx/http_5xx match as written, so each line also gets its canonical form built
 * and matched: `classifyLine` there includes the view, and `accessLineView` alone is its share. The
 * 200 set (no shipped pattern matches as written, so no view is built) is printed for context: it
 * runs every regex to the end. Shipped patterns without `files`; best of --rounds.
 */
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { compileMatcher } from '../src/detection/matcher';
import { accessLineView } from '../src/detection/access-line';
import { numArg } from './lib/common';

/** Best time per item (ns) of `fn` over `items`, of `rounds` rounds. */
function bestNs(items: string[], rounds: number, fn: (s: string) => unknown): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (const s of items) fn(s);
    best = Math.min(best, Number(process.hrtime.bigint() - t));
  }
  return best / items.length;
}

function main(): void {
  const n = numArg('--lines', 200_000);
  const rounds = numArg('--rounds', 9);
  const cfg = loadConfig(path.resolve(__dirname, '../../config/error_patterns.json'));
  const m = compileMatcher(cfg.error_patterns.map(({ files: _files, ...p }) => p));
  const line = (i: number, status: number) =>
    `10.0.0.${i % 255} - - [18/Jan/2025:10:00:01 +0000] "GET /api/${i}?q=ECONNREFUSED HTTP/1.1" ${status} ${i % 512} "https://example.com/ENOSPC" "curl/8.1 JSONDecodeError"`;
  const plain = Array.from({ length: n }, (_, i) => line(i, 200));
  const erring = Array.from({ length: n }, (_, i) => line(i, i % 2 ? 502 : 404));
  const withView = bestNs(erring, rounds, (s) => m.classifyLine(s));
  const view = bestNs(erring, rounds, accessLineView);
  const noView = bestNs(plain, rounds, (s) => m.classifyLine(s));
  process.stdout.write(
    [
      `${n} combined access lines, best of ${rounds}, shipped patterns (unscoped)`,
      `classifyLine, 4xx/5xx lines (view built and matched): ${withView.toFixed(0)} ns/line`,
      `accessLineView alone: ${view.toFixed(0)} ns/line = ${((100 * view) / withView).toFixed(0)} % of that classification`,
      `classifyLine, 200 lines (no view built, every regex runs to the end): ${noView.toFixed(0)} ns/line`,
    ].join('\n') + '\n',
  );
}

if (require.main === module) main();
