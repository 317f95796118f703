/** Pure parts of the probes: detections from a report, overall status, /proc/net/tcp parsing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthDetections, overallStatus, type HealthReport } from '../../src/activities/probes';
import { parseProcNetTcp } from '../../src/activities/probes/port-owners';
import { parseConfig } from '../../src/config/load';

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
