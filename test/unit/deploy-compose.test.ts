/** docker-compose.yml, its setup scripts and the Dockerfile: valid, healthy-ordered, complete. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');

interface ComposeService {
  image?: string;
  build?: unknown;
  restart?: string;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<string | { source?: string; target: string; read_only?: boolean; type?: string }>;
  environment?: Record<string, string>;
  command?: string[] | string;
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** `docker-compose config` (interpolated, normalized) parsed with Python's YAML (a docker-compose dependency). */
function composeConfig(): Compose {
  const yamlText = execFileSync(requireTool('docker-compose'), ['-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8' });
  const json = execFileSync(requireTool('python3'), ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
    input: yamlText,
    encoding: 'utf8',
  });
  return JSON.parse(json) as Compose;
}

const ONE_SHOTS = ['temporal-schema', 'temporal-setup', 'autofix-start'];
const LONG_RUNNING = ['temporal-postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'app-postgres', 'app-redis', 'autofix-worker'];

void test('docker-compose config -q accepts docker-compose.yml', () => {
  const r = spawnSync(requireTool('docker-compose'), ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), /^version:/m);
});

void test('the stack has every service; long-running ones have health checks, one-shots do not restart', () => {
  const c = composeConfig();
  assert.deepEqual(Object.keys(c.services).sort(), [...ONE_SHOTS, ...LONG_RUNNING].sort());
  for (const name of LONG_RUNNING) {
    const hc = c.services[name]?.healthcheck;
    assert.ok(hc && hc.test.length > 0, `${name} has a healthcheck`);
    assert.equal(c.services[name]?.restart, 'unless-stopped', `${name} restarts`);
  }
  for (const name of ONE_SHOTS) assert.equal(c.services[name]?.restart, 'no', `${name} is one-shot`);
  assert.deepEqual(Object.keys(c.volumes ?? {}).sort(), ['app-pgdata', 'app-redisdata', 'autofix-data', 'autofix-logs', 'temporal-pgdata']);
});

void test('start order follows health and completed setup', () => {
  const c = composeConfig();
  const dep = (svc: string) => Object.fromEntries(Object.entries(c.services[svc]?.depends_on ?? {}).map(([k, v]) => [k, v.condition]));
  assert.deepEqual(dep('temporal-schema'), { 'temporal-postgresql': 'service_healthy' });
  assert.deepEqual(dep('temporal'), { 'temporal-schema': 'service_completed_successfully' });
  assert.deepEqual(dep('temporal-setup'), { temporal: 'service_healthy' });
  assert.deepEqual(dep('temporal-ui'), { temporal: 'service_healthy' });
  assert.deepEqual(dep('autofix-worker'), {
    'temporal-setup': 'service_completed_successfully',
    'app-postgres': 'service_healthy',
    'app-redis': 'service_healthy',
  });
  assert.deepEqual(dep('autofix-start'), { 'autofix-worker': 'service_healthy' });
});

void test('Temporal and the monitored app use separate PostgreSQL servers and pinned 1.29 images', () => {
  const c = composeConfig();
  assert.equal(c.services.temporal?.environment?.POSTGRES_SEEDS, 'temporal-postgresql');
  assert.equal(c.services.temporal?.image, 'temporalio/server:1.29.1');
  assert.match(c.services['temporal-setup']?.image ?? '', /^temporalio\/admin-tools:1\.29\.1-/);
  assert.match(c.services['temporal-ui']?.image ?? '', /^temporalio\/ui:\d+\.\d+\.\d+$/);
  assert.equal(c.services['temporal-ui']?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.match(c.services['autofix-worker']?.environment?.DATABASE_URL ?? '', /@app-postgres:5432\/app$/);
  assert.equal(c.services['autofix-worker']?.environment?.REDIS_URL, 'redis://app-redis:6379/0');
  assert.deepEqual(c.services['autofix-start']?.command, ['node', 'bin/autofix', 'run', '--continuous', '--attach']);
});

void test('the worker mounts the config read-only and its data on a named volume', () => {
  const vols = composeConfig().services['autofix-worker']?.volumes ?? [];
  const spec = vols.map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}${v.read_only ? ':ro' : ''}`));
  assert.ok(spec.some((v) => v.endsWith(':/app/config:ro')), spec.join(', '));
  assert.ok(spec.some((v) => /^autofix-data:\/app\/autofix(:rw)?$/.test(v)), spec.join(', '));
  assert.ok(spec.some((v) => /^autofix-logs:\/app\/logs(:rw)?$/.test(v)), spec.join(', '));
});

void test('the setup scripts are valid sh and register the namespace and all five search attributes', () => {
  for (const s of ['temporal-schema.sh', 'temporal-setup.sh']) {
    const r = spawnSync('sh', ['-n', path.join(ROOT, 'deploy/compose', s)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  const setup = readFileSync(path.join(ROOT, 'deploy/compose/temporal-setup.sh'), 'utf8');
  assert.match(setup, /temporal operator namespace create/);
  assert.match(setup, /search-attribute create .*--type Keyword/);
  for (const name of ['AutofixPattern', 'AutofixSeverity', 'AutofixOutcome', 'AutofixHost', 'AutofixTarget']) {
    assert.match(setup, new RegExp(`\\b${name}\\b`));
  }
});

void test('the Dockerfile is multi-stage on Debian bookworm, non-root, starting the worker', () => {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n');
  const from = lines.filter((l) => l.startsWith('FROM '));
  assert.deepEqual(from, ['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim AS runtime']);
  assert.ok(lines.some((l) => /npm ci\b/.test(l)) && lines.some((l) => /npm run build/.test(l)) && lines.some((l) => /npm prune --omit=dev/.test(l)));
  const user = lines.findIndex((l) => l.startsWith('USER '));
  assert.ok(user > lines.indexOf(from[1] as string) && lines[user] !== 'USER root', 'runs as a non-root user');
  assert.equal(lines.filter((l) => l.startsWith('CMD ')).at(-1), 'CMD ["node", "bin/autofix", "worker"]');
  const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', 'data', '.git']) assert.ok(ignored.includes(p), `.dockerignore lists ${p}`);
});
