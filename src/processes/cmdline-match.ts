/**
 * Command-line regexes of the config (`managed.kill_allow_list`, `services.*.process_match`) have
 * full-match semantics: the regex must match the WHOLE command line (argv joined by single
 * spaces), as if written `^(?:…)$`. Unanchored, `redis` would also match `/usr/bin/not-redis-evil`
 * or `vim /etc/redis.conf`: a list that decides what may be killed must say exactly what it means.
 */

/**
 * Compiles a config regex for full-match use. Throws (like `new RegExp`) when `source` itself is
 * not a valid regex — checked before wrapping, since a wrapped `a)|(b` would compile.
 *
 * @example cmdlineRegex('redis-server .*').test('redis-server 127.0.0.1:6379') // true
 * @example cmdlineRegex('redis').test('/usr/bin/not-redis-evil') // false
 */
export function cmdlineRegex(source: string): RegExp {
  new RegExp(source);
  return new RegExp(`^(?:${source})$`);
}
