/** Errors of the deploy renderers. Each says what was wrong and what was expected. */

/**
 * Thrown when a service's restart argv cannot be written safely into a sudoers rule: a character
 * sudoers treats specially (or an empty or whitespace-carrying argument) would change what the rule
 * allows. The message names the service and the argument.
 */
export class UnsafeServiceCommandError extends Error {
  override readonly name = 'UnsafeServiceCommandError';
  constructor(
    readonly service: string,
    message: string,
  ) {
    super(`services.${service}.restart: ${message}`);
  }
}

/** Thrown when an option of a rendered deployment file (unit, sudoers, env file) is invalid. */
export class InvalidDeployOptionError extends Error {
  override readonly name = 'InvalidDeployOptionError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`${option}: ${message}`);
  }
}
