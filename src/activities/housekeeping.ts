/**
 * The detection loop's housekeeping, after each `detect`: alert channels still owed by earlier
 * alerts (retried after their backoff), last-known-good copies of the watched JSON files that
 * parse and changed (when the JSON check ran), and backup retention (at most once a minute per
 * worker; each removal a line in auto_fix.log). A failure here is logged, never fails detection.
 */
import type { Config } from '../config/schema';
import { backupRootFor } from '../backup';
import { snapshotGoodJson } from '../backup/json-good';
import { pruneBackups, pruneLine, retentionOf } from '../backup/retention';
import { writeAutoFixLog, type LogEntry } from '../logging';
import { retryPendingAlerts } from '../notify';

/** When this worker last applied backup retention (it runs at most once a minute). */
let lastPruneMs = 0;

/**
 * The detection loop's housekeeping: last-known-good copies of the watched JSON files that parse
 * and changed (when the JSON check ran), and backup retention (pruned oldest first, each removal
 * a line in auto_fix.log). A failure here is logged, never fails detection.
 */
export async function maintainStores(cfg: Config, jsonChecked: boolean): Promise<void> {
  const lines: LogEntry[] = [];
  try {
    await retryPendingAlerts(cfg); // channels still owed by earlier alerts, after their backoff
  } catch (e) {
    lines.push({ level: 'WARNING', message: `未送信の通知を再送できません: ${(e as Error).message}` });
  }
  try {
    if (jsonChecked) await snapshotGoodJson(cfg);
  } catch (e) {
    lines.push({ level: 'WARNING', message: `JSONの正常コピーを保存できません: ${(e as Error).message}` });
  }
  if (Date.now() - lastPruneMs >= 60_000) {
    lastPruneMs = Date.now();
    try {
      for (const p of await pruneBackups(backupRootFor(cfg), retentionOf(cfg))) lines.push({ level: 'INFO', message: pruneLine(p) });
    } catch (e) {
      lines.push({ level: 'WARNING', message: `バックアップの保持期間を適用できません: ${(e as Error).message}` });
    }
  }
  await writeAutoFixLog(cfg, lines).catch(() => undefined); // housekeeping never fails detection
}
