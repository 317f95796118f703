/** Pure parts of the probes: detections from a report, overall status, /proc/net/tcp parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthDetections, overallStatus, type HealthReport } from '../../src/probes';
import { parseProcNetTcp } from '../../src/proc';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load';
import { isDown } from '../../src/probes/availability';
import { compileMatcher } from '../../src/detection/matcher';

const pattern = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: `name of ${id}`,
  pattern: id,
  severity: 'error',
  ...extra,
});
const config = (patterns: unknown[]) =>
  parseConfig({ error_patterns: patterns }, '/tmp/autofix-unit/config.json', {});
const ALL = [
  'db_connection',
  'redis_connection',
  'disk_full',
  'memory_error',
  'http_5xx',
  'ssl_certificate',
  'port_in_use',
];

const failing: HealthReport = {
  timestamp: '2026-01-01T00:00:00.000Z',
  overall_status: 'unhealthy',
  checks: {
    database_connection: { status: 'unhealthy', message: 'not accepting connections: ECONNREFUSED' },
    redis_connection: { status: 'unhealthy', message: 'no PONG' },
    disk_space: {
      status: 'unhealthy',
      message: 'over 90%',
      paths: { '/': { status: 'unhealthy', message: '95% used' } },
    },
    memory: { status: 'unhealthy', message: '97% used' },
    http_endpoints: {
      status: 'unhealthy',
      message: 'x',
      endpoints: {
        api: {
          status: 'unhealthy',
          message: 'HTTP 502',
          url: 'http://a',
          http_status: 502,
          reason: 'status',
        },
        web: { status: 'unhealthy', message: 'no answer', url: 'http://b', reason: 'timeout' },
        doc: {
          status: 'unhealthy',
          message: 'HTTP 404',
          url: 'http://c',
          http_status: 404,
          reason: 'status',
        },
      },
    },
    tls_certificates: {
      status: 'degraded',
      message: 'expires in 3 days',
      certificates: { web: { status: 'degraded', message: 'expires in 3 days' } },
    },
    ports: {
      status: 'unhealthy',
      message: 'nothing on 5000',
      ports: { flask: { status: 'unhealthy', message: 'flask: nothing listening on 5000' } },
    },
  },
};

void test('healthDetections: the default mapping, one detection per failed check', () => {
  const d = healthDetections(failing, config(ALL.map((id) => pattern(id))));
  assert.deepEqual(
    d.map((x) => [x.id, x.file]),
    [
      ['db_connection', 'database_connection'],
      ['redis_connection', 'redis_connection'],
      ['disk_full', 'disk_space'],
      ['memory_error', 'memory'],
      ['http_5xx', 'http_endpoints'],
      ['ssl_certificate', 'tls_certificates'],
      ['port_in_use', 'ports'],
    ],
  );
  for (const x of d) assert.equal(x.source, 'health');
  const http = d.find((x) => x.id === 'http_5xx');
  assert.equal(http?.count, 2, '502 and timeout count, 404 does not');
  assert.deepEqual(http?.samples, ['api: HTTP 502', 'web: no answer']);
  assert.equal(d.find((x) => x.id === 'disk_full')?.samples[0], '/: 95% used');
  assert.equal(d[0]?.name, 'name of db_connection');
});

void test('healthDetections: only patterns present in the config; name and severity from the pattern', () => {
  const d = healthDetections(
    failing,
    config([pattern('db_connection', { severity: 'critical', name: 'DB down' })]),
  );
  assert.equal(d.length, 1);
  assert.equal(d[0]?.severity, 'critical');
  assert.equal(d[0]?.name, 'DB down');
  assert.deepEqual(healthDetections(failing, config([])), []);
});

void test('healthDetections: health_checks overrides the default mapping', () => {
  const d = healthDetections(
    failing,
    config([
      pattern('db_connection'),
      pattern('stack_down', { health_checks: ['database_connection', 'redis_connection'] }),
      pattern('redis_connection'),
    ]),
  );
  assert.deepEqual(
    d.map((x) => [x.id, x.file]),
    [
      ['stack_down', 'database_connection'],
      ['stack_down', 'redis_connection'],
    ],
  );
  // Explicitly claimed http_endpoints fires on any unhealthy endpoint, the 404 included.
  const h = healthDetections(
    failing,
    config([pattern('site_broken', { health_checks: ['http_endpoints'] })]),
  );
  assert.equal(h[0]?.count, 3);
});

void test('healthDetections: healthy, unknown and (outside TLS) degraded checks raise nothing', () => {
  const report: HealthReport = {
    timestamp: '',
    overall_status: 'degraded',
    checks: {
      database_connection: { status: 'healthy', message: 'accepting connections' },
      memory: { status: 'unknown', message: 'probe failed' },
      http_endpoints: {
        status: 'degraded',
        message: 'slow',
        endpoints: { api: { status: 'degraded', message: 'slow', url: 'x', reason: 'latency' } },
      },
    },
  };
  assert.deepEqual(healthDetections(report, config(ALL.map((id) => pattern(id)))), []);
});

void test('overallStatus: unhealthy > degraded > healthy; unknown alone → unknown, beside healthy → degraded', () => {
  assert.equal(overallStatus([]), 'unknown');
  assert.equal(overallStatus(['unknown', 'unknown']), 'unknown');
  assert.equal(overallStatus(['healthy', 'healthy']), 'healthy');
  assert.equal(overallStatus(['healthy', 'unknown']), 'degraded');
  assert.equal(overallStatus(['healthy', 'degraded']), 'degraded');
  assert.equal(overallStatus(['degraded', 'unhealthy', 'unknown']), 'unhealthy');
});

void test('parseProcNetTcp: ports, states and inodes of IPv4 and IPv6 rows', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 67890 1 0000000000000000 20 4 30 10 -1',
    '   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 555 1 0000000000000000 100 0 0 10 0',
    '',
  ].join('\n');
  assert.deepEqual(parseProcNetTcp(text), [
    { port: 8080, state: '0A', inode: '12345' },
    { port: 54321, state: '01', inode: '67890' },
    { port: 6379, state: '0A', inode: '555' },
  ]);
});

void test('healthDetections: a connection check refusing us raises the :refused pattern, never the restart pattern', () => {
  const refusing = (code: string): HealthReport => ({
    timestamp: '',
    overall_status: 'unhealthy',
    checks: {
      database_connection: { status: 'unhealthy', message: `accepting connections but refusing this one (${code})`, failure: { kind: 'refusing', code } },
      redis_connection: { status: 'unhealthy', message: 'no PONG, accepting connections but refusing this one', failure: { kind: 'refusing', code: 'NOAUTH' } },
    },
  });
  const ids = [...ALL, 'db_refused', 'redis_refused'];
  for (const code of ['28P01', '53300', '57P03']) {
    const d = healthDetections(refusing(code), config(ids.map((id) => pattern(id))));
    assert.deepEqual(d.map((x) => [x.id, x.file]), [
      ['db_refused', 'database_connection'],
      ['redis_refused', 'redis_connection'],
    ]);
  }
  // Without alert-only patterns a refusal raises nothing (it still shows in the health report).
  assert.deepEqual(healthDetections(refusing('28P01'), config(ALL.map((id) => pattern(id)))), []);
  // An explicit claim of the plain check name means "down" only.
  const explicit = config([
    pattern('pg_restart', { health_checks: ['database_connection'] }),
    pattern('pg_alert', { health_checks: ['database_connection:refused'] }),
  ]);
  assert.deepEqual(healthDetections(refusing('28P01'), explicit).map((x) => x.id), ['pg_alert']);
  const probeError: HealthReport = {
    timestamp: '',
    overall_status: 'unhealthy',
    checks: { database_connection: { status: 'unhealthy', message: 'the check could not be made', failure: { kind: 'probe_error', code: 'ENOTFOUND' } } },
  };
  assert.deepEqual(healthDetections(probeError, explicit).map((x) => x.id), ['pg_alert']);
  const down: HealthReport = {
    timestamp: '',
    overall_status: 'unhealthy',
    checks: { database_connection: { status: 'unhealthy', message: 'not accepting connections', failure: { kind: 'down', code: 'ECONNREFUSED' } } },
  };
  assert.deepEqual(healthDetections(down, explicit).map((x) => x.id), ['pg_restart']);
});

void test('isDown: only an unhealthy result that is not a refusal or a probe error', () => {
  const r = (status: 'healthy' | 'unhealthy' | 'unknown' | 'degraded', failure?: unknown) => ({ status, message: '', ...(failure ? { failure } : {}) });
  assert.equal(isDown(r('unhealthy', { kind: 'down', code: 'ECONNREFUSED' })), true);
  assert.equal(isDown(r('unhealthy')), true, "the runner's own deadline: nothing answered");
  assert.equal(isDown(r('unhealthy', { kind: 'refusing', code: '28P01' })), false);
  assert.equal(isDown(r('unhealthy', { kind: 'probe_error', code: 'ENOTFOUND' })), false);
  assert.equal(isDown(r('unknown')), false);
  assert.equal(isDown(r('degraded')), false);
  assert.equal(isDown(r('healthy')), false);
});

void test('the shipped config: refusals in app logs are alert-only, dead servers are connection errors', () => {
  const shipped = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
  const m = compileMatcher(shipped.error_patterns);
  const cls = (line: string) => m.classifyLine(line)?.id;
  const refused = [
    'FATAL:  sorry, too many clients already',
    'psycopg2.OperationalError: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "app"',
    'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) FATAL:  remaining connection slots are reserved for non-replication superuser connections',
    'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  role "app" does not exist',
    'FATAL:  the database system is starting up',
    'FATAL:  the database system is in recovery mode',
    'FATAL:  the database system is shutting down',
    'FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "app", database "app", no encryption',
    'asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already',
  ];
  for (const line of refused) assert.equal(cls(line), 'db_refused', line);
  for (const line of ['redis.exceptions.ConnectionError: max number of clients reached', 'redis.exceptions.AuthenticationError: invalid username-password pair', '[ioredis] Unhandled error event: ReplyError: NOAUTH Authentication required.', 'redis.exceptions.BusyLoadingError: Redis is loading the dataset in memory']) {
    assert.equal(cls(line), 'redis_refused', line);
  }
  for (const line of ['psycopg2.OperationalError: connection to server at "127.0.0.1", port 5432 failed: Connection refused', 'could not connect to server: No such file or directory', 'Error: Connection terminated unexpectedly']) {
    assert.equal(cls(line), 'db_connection', line);
  }
  assert.equal(cls('redis.exceptions.ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused.'), 'redis_connection');
  for (const id of ['db_refused', 'redis_refused']) {
    const p = shipped.error_patterns.find((x) => x.id === id);
    assert.deepEqual(p?.actions.map((a) => a.type), ['alert'], `${id} only alerts`);
  }
});
