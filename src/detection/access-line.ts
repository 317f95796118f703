/**
 * Access-log lines, seen the way patterns may see them. In an access log, the request line, the
 * user, the referer and the user agent are written by whoever sends a request:
 * `GET /search?q=ECONNREFUSED` must not read as a database outage, `GET /ENOSPC` as a full disk.
 * So a line recognised as an access-log line (common/combined log format of nginx, Apache and
 * gunicorn, werkzeug / http.server, with any logger prefix) is matched as a CANONICAL line that
 * keeps only what the server wrote, in the same shape:
 *
 *   <client IP or -> - - [<date>] "<METHOD> / <HTTP/x.y>" <status> <size> <"-" for each quoted field, numbers kept>
 *
 * The URL becomes `/`, an unknown method `-`, ident, user and referer/user-agent fields `-`;
 * trailing fields are kept only when they are numbers (`rt=0.012`, `uct="0.000"`). HTTP patterns
 * (`] "[^"]*" 5\d\d`) still match the status; no pattern can match request text. A werkzeug
 * error line (`[date] code 400, message Bad request syntax ('...')`) keeps only its code.
 *
 * Recognition: a ` [date] ` followed by `"` or `code NNN, message`, anywhere in the line. Whatever
 * comes before the date (logger prefix, host, ident, user) is dropped. When the rest cannot be
 * parsed (raw quotes in a field of a server that does not escape them), the whole rest is
 * masked: a request can hide its own status, never inject text.
 */

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
/** ` [18/Jan/2025:10:00:00 +0000] ` (CLF), ` [18/Jan/2025 10:00:00] ` (werkzeug), ` [2025-01-18T10:00:00+00:00] ` (ISO). */
const DATE = new RegExp(
  ` \\[(\\d{1,2}/(?:${MONTHS})/\\d{4}[: ]\\d{2}:\\d{2}:\\d{2}(?:[.,]\\d{1,9})?(?: [+-]\\d{4})?|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:[.,]\\d{1,9})?(?:Z|[+-]\\d{2}:?\\d{2})?)\\] (?="|code \\d{3}, message )`,
  'g',
);
/** A status code with the ANSI colours werkzeug may put around it. */
const STATUS = '((?:\\x1b\\[[0-9;]{1,8}m){0,4})(\\d{3})((?:\\x1b\\[0m)?)';
/** A status token alone (for the line-end check of `clfView`). */
const STATUS_TOKEN = new RegExp(`^${STATUS}$`);
/** Status and size right after an escaped quoted request. */
const STATUS_SIZE = new RegExp(` ${STATUS} (\\d+|-)`, 'y');
/** A trailing unquoted field kept as it is: a number, a time, `key=number`. */
const NUMERIC_FIELD = /^(?:[A-Za-z_]{1,32}=)?[\d.:,-]{1,40}$/;
/** The value of a quoted trailing field kept as it is (upstream times: `0.001, 0.002`). */
const NUMERIC_VALUE = /^[\d.:, -]{1,40}$/;
/** The `key=` of a `key="value"` trailing field. */
const KEY_QUOTED = /[A-Za-z_][\w.-]{0,31}=(?=")/y;
const IP_FIRST = /^((?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}) /;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]{0,16}m/g;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PRI']);
/** How many ` [date] ` occurrences are tried before the line is taken as unparseable (bounds the work). */
const MAX_DATES = 4;

/** The canonical request field: known method, `/`, protocol. */
function requestView(raw: string): string {
  const req = raw.includes('\x1b') ? raw.replace(ANSI, '') : raw;
  if (req === '' || req === '-') return '"-"';
  const m = /^(\S+)(?: \S.*?)?(?: (HTTP\/\d(?:\.\d)?))?$/s.exec(req);
  const method = m?.[1] && METHODS.has(m[1]) ? m[1] : '-';
  return `"${method} /${m?.[2] ? ` ${m[2]}` : ''}"`;
}

/** End of a quoted field starting at `open` (a `"`), honouring backslash escapes; -1 when unterminated. */
function quotedEnd(s: string, open: number): number {
  for (let i = open + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++; // backslash: skip the escaped character
    else if (c === 34) return i;
  }
  return -1;
}

/** The canonical trailing fields (after the size), or null when they do not parse. */
function trailView(s: string, from: number): string | null {
  let out = '';
  let i = from;
  while (i < s.length) {
    if (s.charCodeAt(i) !== 32) return null;
    i++;
    // `"value"` or `key="value"` (nginx: uct="$upstream_connect_time"): numbers kept, text masked.
    KEY_QUOTED.lastIndex = i;
    const key = KEY_QUOTED.exec(s)?.[0] ?? '';
    if (s.charCodeAt(i + key.length) === 34) {
      const open = i + key.length;
      const end = quotedEnd(s, open);
      if (end === -1) return null;
      const value = s.slice(open + 1, end);
      out += ` ${key}"${NUMERIC_VALUE.test(value) ? value : '-'}"`;
      i = end + 1;
    } else {
      let end = s.indexOf(' ', i);
      if (end === -1) end = s.length;
      if (end === i) return null;
      const tok = s.slice(i, end);
      if (tok.includes('"')) return null;
      out += NUMERIC_FIELD.test(tok) ? ` ${tok}` : ' -';
      i = end;
    }
  }
  return out;
}

/**
 * The request ends the line, `"<request>" <status> <size>` (werkzeug, http.server, CLF): read
 * from the end, so raw quotes inside the request (werkzeug does not escape them) cannot move the
 * status. Null when the line does not end that way.
 */
function clfView(rest: string): string | null {
  const sp2 = rest.lastIndexOf(' ');
  const sp1 = sp2 > 0 ? rest.lastIndexOf(' ', sp2 - 1) : -1;
  if (sp1 < 2 || rest.charCodeAt(sp1 - 1) !== 34) return null;
  const size = rest.slice(sp2 + 1);
  const status = STATUS_TOKEN.exec(rest.slice(sp1 + 1, sp2));
  if (!status || !/^(?:\d+|-)$/.test(size)) return null;
  return `${requestView(rest.slice(1, sp1 - 1))} ${status[1]}${status[2]}${status[3]} ${size}`;
}

/** The canonical rest of the line after `[date] `, or null when it does not parse. */
function restView(rest: string): string | null {
  if (rest.startsWith('code ')) {
    const code = /^code (\d{3}), message /.exec(rest);
    if (code) return `code ${code[1]}, message -`;
  }
  const clf = clfView(rest);
  if (clf !== null) return clf;
  const close = quotedEnd(rest, 0);
  if (close === -1) return null;
  STATUS_SIZE.lastIndex = close + 1;
  const st = STATUS_SIZE.exec(rest);
  if (!st) return null;
  const trail = trailView(rest, STATUS_SIZE.lastIndex);
  if (trail === null) return null;
  return `${requestView(rest.slice(1, close))} ${st[1]}${st[2]}${st[3]} ${st[4]}${trail}`;
}

/**
 * The canonical form of an access-log line (see the module comment), or undefined when `line`
 * is not one (it is then matched as it is).
 *
 * @example
 *   accessLineView('127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /search?q=ECONNREFUSED HTTP/1.1" 200 -')
 *   // '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET / HTTP/1.1" 200 -'
 */
export function accessLineView(line: string): string | undefined {
  if (!line.includes('] ')) return undefined;
  DATE.lastIndex = 0;
  let first: string | undefined;
  for (let n = 0; n < MAX_DATES; n++) {
    const d = DATE.exec(line);
    if (!d) break;
    const head = `${IP_FIRST.exec(line)?.[1] ?? '-'} - - [${d[1]}] `;
    first ??= `${head}-`;
    const rest = restView(line.slice(DATE.lastIndex));
    if (rest !== null) return head + rest;
  }
  return first;
}
