/**
 * What an operator meets at start with the real `srs` command: `srs --version`, the version in
 * the ready line and in srs_build_info; an admin or
 * metrics token shorter than 16 characters and an empty SRS_SRC_ALLOW refused (exit 2, one line
 * naming the setting); a port another process holds (HTTP, SIP over UDP, SIP over TCP) named by
 * its setting instead of a bare EADDRINUSE.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, run, serveEnv, SRS_BIN, startTestServer } from '../helpers/server.js';

describe('srs: version, short tokens, empty SRS_SRC_ALLOW, ports in use', { timeout: 240_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-e2e-opset-'));
    env = await serveEnv(join(dir, 'data'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const serve = (more: Record<string, string>) =>
    run(process.execPath, [SRS_BIN, 'serve'], { env: { ...env, ...more }, timeoutMs: 90_000 });

  it('prints its version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(process.execPath, [SRS_BIN, '--version'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('says its version in the ready line and in srs_build_info', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const s = await startTestServer({}, join(dir, 'versioned'));
    try {
      const ready = await s.waitFor(/SIPREC recording server ready/, 90_000);
      assert.equal((JSON.parse(ready) as { version?: string }).version, pkg.version);
      const m = await fetch(`http://127.0.0.1:${s.httpPort}/metrics`, {
        headers: { authorization: `Bearer ${s.token}` },
      });
      assert.match(await m.text(), new RegExp(`^srs_build_info\\{version="${pkg.version}"\\} 1$`, 'm'));
    } finally {
      await s.stop();
    }
  });

  it('refuses short admin and metrics tokens and an empty SRS_SRC_ALLOW with one line naming each', async () => {
    for (const [more, re] of [
      [{ SRS_ADMIN_TOKEN: 'a' }, /adminToken: at least 16 characters \(SRS_ADMIN_TOKEN\)/],
      [
        { SRS_METRICS_TOKEN: 'short-token' },
        /http\.metricsToken: at least 16 characters \(SRS_METRICS_TOKEN\)/,
      ],
      [{ SRS_SRC_ALLOW: '' }, /SRS_SRC_ALLOW is set but empty/],
    ] as const) {
      const r = await serve(more);
      assert.equal(r.code, 2, `${JSON.stringify(more)}: exit ${r.code}; ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr + r.stdout, /short-token/, 'the secret is not echoed');
    }
  });

  it('names HTTP_PORT or SIP_PORT (udp or tcp) when another process holds it', async () => {
    const holdTcp = async (port: number) => {
      const s = createServer();
      await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
      return () => new Promise<void>((r) => s.close(() => r()));
    };
    const holdUdp = async (port: number) => {
      const u = createSocket('udp4');
      await new Promise<void>((r) => u.bind(port, '127.0.0.1', () => r()));
      return () => new Promise<void>((r) => u.close(() => r()));
    };
    const cases: [() => Promise<() => Promise<void>>, RegExp][] = [
      [
        () => holdTcp(Number(env.HTTP_PORT)),
        new RegExp(`HTTP_PORT ${env.HTTP_PORT} \\(http\\) is already in use`),
      ],
      [
        () => holdUdp(Number(env.SIP_PORT)),
        new RegExp(`SIP_PORT ${env.SIP_PORT} \\(udp\\) is already in use`),
      ],
      [
        () => holdTcp(Number(env.SIP_PORT)),
        new RegExp(`SIP_PORT ${env.SIP_PORT} \\(tcp\\) is already in use`),
      ],
    ];
    for (const [hold, re] of cases) {
      const release = await hold();
      try {
        const r = await serve({});
        assert.notEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, re);
        assert.doesNotMatch(r.stdout, /SIPREC recording server ready/);
      } finally {
        await release();
      }
    }
  });
});
