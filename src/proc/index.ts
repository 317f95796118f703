/**
 * Everything autofix reads from /proc and the user databases, in one place: TCP sockets, who
 * holds a port, process identity (pid + start time + uid + command line) and parent chains,
 * users and groups. Used by the probes and the actions alike. Linux only; the only Temporal
 * import is the non-retryable ConfigError of `resolveUid`/`resolveGid`.
 */
export * from './sockets';
export * from './processes';
export * from './port-owners';
export * from './users';
export * from './open-files';
