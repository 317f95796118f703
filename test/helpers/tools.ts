/**
 * External programs a test runs. `npm test` installs them first (scripts/test-prerequisites); if
 * one is still missing (a subset run on another machine), the test fails naming the package,
 * rather than with a bare ENOENT or a silent skip.
 */
import { findTool, TEST_TOOLS } from '../../scripts/test-prerequisites';

/**
 * The absolute path of `tool`, which must be listed in TEST_TOOLS; throws naming its Debian
 * package when it is not installed.
 *
 * @example spawnSync(requireTool('visudo'), ['-cf', file]);
 */
export function requireTool(tool: string): string {
  const row = TEST_TOOLS.find((t) => t.tool === tool);
  if (!row) throw new Error(`${tool} is not listed in TEST_TOOLS (scripts/test-prerequisites.ts): add a row naming its Debian package`);
  const found = findTool(tool);
  if (!found) throw new Error(`${tool} not found: install the Debian package ${row.package} (npm test installs it when run as root)`);
  return found;
}
