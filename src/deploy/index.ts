/**
 * Pure renderers of the deployment files (systemd unit, sudoers drop-in, env file) used by
 * `autofix install-service` and kept equal to the examples committed under deploy/.
 */
export { renderUnit, renderDaemonUnit, resolveUnitOptions, type UnitOptions, type ResolvedUnitOptions } from './unit';
export { renderSudoers, restartArgvOf, sudoersRules, type SudoersRule } from './sudoers';
export { renderEnvFile, type EnvFileOptions } from './env-file';
export { resolverOn, isExecutableFile, SUDO_SECURE_PATH, type CommandResolver } from './resolve-command';
export { UnsafeServiceCommandError, InvalidDeployOptionError } from './errors';
export { readOnlyUnderProtectSystem, PROTECT_SYSTEM_FULL_READ_ONLY } from './read-only-paths';
