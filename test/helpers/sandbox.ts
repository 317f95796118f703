/**
 * A temp sandbox with its own config file, watched log and data dir, so each test touches only
 * files it made.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Sandbox {
  dir: string;
  configPath: string;
  appLog: string;
  dataDir: string;
  /** Rewrites the config file with `patch` merged over the base config. */
  writeConfig(patch?: Record<string, unknown>): void;
  cleanup(): void;
}

/** A pattern that matches HTTP 500 lines and only alerts (real action, cheap effect). */
export const http500Pattern = {
  id: 'http_5xx',
  name: 'HTTP 5xxエラー',
  pattern: '" 5\\d\\d ',
  severity: 'error',
  auto_fix: true,
  actions: [{ type: 'alert', description: 'alert only' }],
};

/** Makes a sandbox; `base` is merged into the generated config. */
export function makeSandbox(base: Record<string, unknown> = {}): Sandbox {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-test-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const appLog = path.join(dir, 'logs', 'app.log');
  writeFileSync(appLog, '');
  const configPath = path.join(dir, 'error_patterns.json');
  const sb: Sandbox = {
    dir,
    configPath,
    appLog,
    dataDir,
    writeConfig(patch = {}) {
      const cfg = {
        error_patterns: [http500Pattern],
        auto_fix_config: { max_retries: 2, retry_delay: 1, cooldown_period: 1, notification_channels: ['log', 'alerts'] },
        // Both logs inside the sandbox (the default, ../logs/auto_fix.log, would be shared by all tests).
        daemon: { data_dir: dataDir, log_file: path.join(dataDir, 'logs', 'auto_fix.log') },
        watch: { logs: [appLog] },
        health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
        managed: { roots: [dir] },
        ...base,
        ...patch,
      };
      writeFileSync(configPath, JSON.stringify(cfg, null, 2));
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  sb.writeConfig();
  return sb;
}
