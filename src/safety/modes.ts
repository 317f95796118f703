/**
 * File modes: parsed once from the config's octal strings, and never set wider than configured.
 */
import { configError } from './errors';

/**
 * Parses an octal mode string ("0750", "644") into a number. Throws `ConfigError` when invalid.
 *
 * @example parseMode('0750', 'managed.dir_mode') // 0o750
 */
export function parseMode(mode: string, where: string): number {
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw configError(`${where}: "${mode}" is not an octal mode; expected e.g. "0750"`);
  return parseInt(mode, 8);
}

/**
 * The mode a regular file gets when a directory mode is applied recursively: read/write bits as
 * configured, execute bits only where the file already had them and the config allows them, no
 * setuid/setgid/sticky. So a "0750" tree never makes data files executable — never wider than
 * configured, and never wider than the file was for execute.
 *
 * @example fileModeUnderTree(0o750, 0o100644) // 0o640
 */
export function fileModeUnderTree(configured: number, current: number): number {
  return (configured & 0o666) | (configured & current & 0o111);
}

/** "0640"-style rendering for messages. */
export function formatMode(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}
