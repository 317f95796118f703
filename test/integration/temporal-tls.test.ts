/**
 * Connecting to a secured cluster with the Temporal CLI's own variables (TEMPORAL_TLS_CA,
 * TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY): a real TLS
 * endpoint — Debian's nginx terminating TLS with `grpc_pass` in front of the dev server, one
 * listener requiring a client certificate (mTLS), one requiring an API key — with certificates
 * made by openssl here. The worker and the CLI get through with the right credentials; a client
 * without them is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from '../helpers/tools';
import { freePort } from '../helpers/net';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { temporalAddress, waitFor } from '../helpers/temporal';
import { canConnect } from '../../src/util/net';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '../../..');
const BIN = path.join(REPO, 'bin', 'autofix');
const SERVER_NAME = 'temporal.autofix.test';
const API_KEY = 'test-api-key-1234567890';

/** A CA, a server certificate for SERVER_NAME and a client certificate, made with openssl. */
function makeCertificates(dir: string): Record<'ca' | 'serverCrt' | 'serverKey' | 'clientCrt' | 'clientKey', string> {
  const openssl = requireTool('openssl');
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync(openssl, args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=autofix test CA');
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
  };
  leaf('server', SERVER_NAME, `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'autofix-worker', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('ca.crt'), serverCrt: f('server.crt'), serverKey: f('server.key'), clientCrt: f('client.crt'), clientKey: f('client.key') };
}

describe('Temporal over TLS (nginx grpc_pass in front of the dev server)', () => {
  let dir: string;
  let certs: ReturnType<typeof makeCertificates>;
  let nginx: ChildProcess;
  let mtlsPort: number;
  let apiKeyPort: number;
  let sb: Sandbox;
  let worker: ChildProcess | undefined;

  before(async () => {
    const nginxBin = requireTool('nginx');
    dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-tls-'));
    certs = makeCertificates(dir);
    [mtlsPort, apiKeyPort] = [await freePort(), await freePort()];
    mkdirSync(path.join(dir, 'tmp'));
    // Long polls last about a minute: nginx must not cut them.
    const upstream = `grpc_pass grpc://${temporalAddress()}; grpc_read_timeout 600s; grpc_send_timeout 600s;`;
    writeFileSync(
      path.join(dir, 'nginx.conf'),
      `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  client_max_body_size 0;
  ssl_certificate ${certs.serverCrt};
  ssl_certificate_key ${certs.serverKey};
  server {
    listen 127.0.0.1:${mtlsPort} ssl http2;
    ssl_client_certificate ${certs.ca};
    ssl_verify_client on;
    location / { ${upstream} }
  }
  server {
    listen 127.0.0.1:${apiKeyPort} ssl http2;
    location / {
      if ($http_authorization != "Bearer ${API_KEY}") { return 401; }
      ${upstream}
    }
  }
}
`,
    );
    nginx = spawn(nginxBin, ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitFor('nginx listening', async () => (await canConnect(mtlsPort)) && (await canConnect(apiKeyPort)), 15_000);
    sb = makeSandbox();
    sb.writeConfig({
      error_patterns: [{ id: 'fs_not_found', name: 'missing dir', pattern: 'FileNotFoundError', severity: 'warning', auto_fix: true, actions: [{ type: 'create_missing_dirs' }] }],
      managed: { roots: [sb.dir], directories: { uploads: path.join(sb.dir, 'uploads') } },
    });
  });

  after(() => {
    worker?.kill('SIGKILL');
    nginx?.kill('SIGQUIT');
    sb?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The environment of a process that talks to Temporal through one of the TLS listeners. */
  const tlsEnv = (port: number, creds: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_TLS_CA: certs.ca, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME, ...creds };
    delete env.AUTOFIX_UI_URL;
    return env;
  };
  const mtls = () => ({ TEMPORAL_TLS_CERT: certs.clientCrt, TEMPORAL_TLS_KEY: certs.clientKey });
  const autofix = (args: string[], env: NodeJS.ProcessEnv) =>
    run(process.execPath, [BIN, ...args], { env, timeout: 60_000 }).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );

  test('with a client certificate, the worker and the CLI work through mTLS: a fix runs end to end', async () => {
    const env = tlsEnv(mtlsPort, mtls());
    worker = spawn(process.execPath, [BIN, 'worker', '--host', 'tlshost', '--config', sb.configPath, '--metrics', 'off'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor('the worker polls through TLS', async () => /worker polling task queue autofix-tlshost/.test(out), 30_000);
    const r = await autofix(['fix', 'fs_not_found', '--host', 'tlshost', '--json'], env);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { outcome: string }).outcome, 'fixed');
    assert.ok(existsSync(path.join(sb.dir, 'uploads')), 'the action ran on the worker behind TLS');
  });

  test('without a client certificate the same endpoint refuses the client', async () => {
    const r = await autofix(['incidents', '--json'], tlsEnv(mtlsPort, {}));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
  });

  test('an API key gets through the listener that requires it; a wrong one does not', async () => {
    const ok = await autofix(['incidents', '--json'], tlsEnv(apiKeyPort, { TEMPORAL_API_KEY: API_KEY }));
    assert.equal(ok.code, 0, ok.err);
    assert.ok(Array.isArray((JSON.parse(ok.out) as { incidents: unknown[] }).incidents));
    const bad = await autofix(['incidents', '--json'], tlsEnv(apiKeyPort, { TEMPORAL_API_KEY: 'wrong-key' }));
    assert.notEqual(bad.code, 0);
  });

  test('a client certificate without its key is a clear error naming both variables', async () => {
    const r = await autofix(['incidents'], tlsEnv(mtlsPort, { TEMPORAL_TLS_CERT: certs.clientCrt }));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/);
    assert.ok(readFileSync(certs.clientKey).length > 0);
  });
});
