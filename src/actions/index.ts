/**
 * The registry of action types: type name → definition. Adding an action type is one file in
 * this folder and one entry here (and its parameters in src/config/action-params.ts).
 */
import type { ActionSpec, ActionType } from '../config/schema';
import type { ActionDefinition } from './types';
import { serviceRestart } from './service-restart';
import { logRotate } from './log-rotate';
import { cacheClear } from './cache-clear';
import { tempFileCleanup } from './temp-file-cleanup';
import { createMissingDirs } from './create-missing-dirs';
import { fixPermissions } from './fix-permissions';
import { checkPort } from './check-port';
import { killProcessOnPort } from './kill-process-on-port';
import { databaseVacuum } from './database-vacuum';
import { backupAndFixJson } from './backup-and-fix-json';
import { oldFileCleanup } from './old-file-cleanup';
import { alert } from './alert';
import { logAnalysis } from './log-analysis';

type Registry = { [T in ActionType]: ActionDefinition<Extract<ActionSpec, { type: T }>> };

/** Every action type by name. */
export const ACTIONS: Registry = {
  service_restart: serviceRestart,
  log_rotate: logRotate,
  cache_clear: cacheClear,
  temp_file_cleanup: tempFileCleanup,
  create_missing_dirs: createMissingDirs,
  fix_permissions: fixPermissions,
  check_port: checkPort,
  kill_process_on_port: killProcessOnPort,
  database_vacuum: databaseVacuum,
  backup_and_fix_json: backupAndFixJson,
  old_file_cleanup: oldFileCleanup,
  alert,
  log_analysis: logAnalysis,
};

/** Looks up the definition of an action spec's type. */
export function actionFor<S extends ActionSpec>(spec: S): ActionDefinition<S> {
  return ACTIONS[spec.type] as unknown as ActionDefinition<S>;
}
