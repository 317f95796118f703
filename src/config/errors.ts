/** One problem in a config file: where (JSON path) and what was expected. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/**
 * Thrown when a config file cannot be read, is not JSON, or does not match the schema.
 * The CLI prints `message` and exits with code 2; the daemon refuses a reload with it.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `invalid config ${file}:\n` + issues.map((i) => `  at ${i.path}: ${i.message}`).join('\n'),
    );
  }
}
