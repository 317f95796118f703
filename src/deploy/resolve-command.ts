/**
 * Resolves a command name the way sudo does: through its `secure_path` (Debian's default below),
 * so the absolute path written into sudoers is the one sudo will match.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/** Debian's `Defaults secure_path` in /etc/sudoers. */
export const SUDO_SECURE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

/** Finds a command's absolute path; returns undefined when it is not found. */
export type CommandResolver = (name: string) => string | undefined;

/** True when `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a resolver over `dirs`: an absolute name is returned as is when executable, a bare name
 * is looked up in each directory in order.
 *
 * @example
 *   resolverOn()('systemctl'); // '/usr/bin/systemctl' on Debian 12
 */
export function resolverOn(dirs: readonly string[] = SUDO_SECURE_PATH, isExecutable = isExecutableFile): CommandResolver {
  return (name) => {
    if (path.isAbsolute(name)) return isExecutable(name) ? name : undefined;
    if (name.includes('/')) return undefined;
    for (const d of dirs) {
      const candidate = path.join(d, name);
      if (isExecutable(candidate)) return candidate;
    }
    return undefined;
  };
}
