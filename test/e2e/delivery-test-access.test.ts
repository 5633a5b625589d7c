/**
 * "Test access" of a delivery destination (POST /api/v1/delivery/destinations/{name}/test) on a
 * real `srs serve` with delivery configured, against real servers: OpenSSH sftp (key login, a
 * wrong password, sysfs where even root may not create a file, a server that never answers), the
 * pyftpdlib FTPS server (its CA trusted, and not: the TLS error), local directories (one that is
 * a regular file). Each answer is checked step by step (login, directory, write, read, delete),
 * no probe file may be left, no password may appear in a reply or the log, the test is bounded by
 * the destination's timeout, and each test is audited. In Chromium, the Delivery page's "Test
 * access" button shows the steps.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { freePort, startSshd, type Sshd } from '../helpers/delivery-fixtures.js';
import { startFtpServer, type FtpServer } from '../helpers/ftp-server.js';
import { ROOT, startTestServer, type TestServer } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_PASSWORD = 'access-test-admin-password';
const WRONG_PASSWORD = `wrong-sftp-password-${Math.random().toString(36).slice(2)}`;

interface Step {
  step: string;
  ok: boolean;
  ms: number;
  error?: string;
}
interface Answer {
  status: number;
  text: string;
  json: { name?: string; ok?: boolean; steps?: Step[]; error?: string };
}

describe(
  'delivery destinations: test access (real sshd, FTPS, local, HTTP API)',
  { timeout: 300_000 },
  () => {
    let dir: string;
    let sshd: Sshd;
    let ftp: FtpServer;
    let silent: Server;
    const silentSockets = new Set<Socket>();
    let a: TestServer | undefined;
    let b: TestServer | undefined;
    const paths = {} as Record<'sftpGood' | 'sftpBad' | 'local' | 'notADir', string>;
    const names = {} as Record<
      | 'sftpGood'
      | 'sftpWrongPassword'
      | 'ftpGood'
      | 'ftpBadCert'
      | 'sftpSys'
      | 'silent'
      | 'local'
      | 'notADir',
      string
    >;

    const call = async (s: TestServer, method: string, path: string, auth = true): Promise<Answer> => {
      const r = await fetch(`http://127.0.0.1:${s.httpPort}/api/v1${path}`, {
        method,
        headers: auth ? { authorization: `Bearer ${s.token}` } : {},
      });
      const text = await r.text();
      return { status: r.status, text, json: JSON.parse(text) as Answer['json'] };
    };
    const test = (s: TestServer, name: string) =>
      call(s, 'POST', `/delivery/destinations/${encodeURIComponent(name)}/test`);
    const stepsOf = (r: Answer) => (r.json.steps ?? []).map((x) => `${x.step}:${x.ok ? 'ok' : 'failed'}`);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'srs-access-test-'));
      [sshd, ftp] = await Promise.all([startSshd(), startFtpServer({ tls: 'explicit' })]);
      // A server that takes the connection and never says a word (no SSH banner).
      silent = createServer((s) => {
        silentSockets.add(s);
        s.on('error', () => undefined);
      });
      const silentPort = await freePort();
      await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
      paths.sftpGood = join(dir, 'sftp-good');
      paths.sftpBad = join(dir, 'sftp-wrong-password');
      paths.local = join(dir, 'local-export');
      paths.notADir = join(dir, 'not-a-directory');
      await mkdir(paths.sftpGood);
      await mkdir(paths.local);
      await writeFile(paths.notADir, 'a regular file where the export directory should be\n');
      const sftp = (directory: string, auth: Record<string, unknown>, port = sshd.port) => ({
        type: 'sftp',
        host: '127.0.0.1',
        port,
        username: sshd.user,
        directory,
        hostKeySha256: sshd.hostKeySha256,
        timeoutSeconds: 20,
        ...auth,
      });
      const ftps = (directory: string, caFile: string | undefined) => ({
        type: 'ftp',
        host: '127.0.0.1',
        port: ftp.port,
        username: ftp.user,
        password: ftp.password,
        directory,
        tls: 'explicit',
        ...(caFile ? { caFile } : {}),
        timeoutSeconds: 20,
      });
      const sftpName = (directory: string, port = sshd.port) =>
        `sftp:sftp://${sshd.user}@127.0.0.1:${port}${directory}`;
      names.sftpGood = sftpName(paths.sftpGood);
      names.sftpWrongPassword = sftpName(paths.sftpBad);
      names.ftpGood = `ftp:ftp://${ftp.user}@127.0.0.1:${ftp.port}/probe`;
      names.ftpBadCert = `ftp:ftp://${ftp.user}@127.0.0.1:${ftp.port}/other`;
      names.sftpSys = sftpName('/sys');
      names.silent = sftpName('/upload', silentPort);
      names.local = `local:${paths.local}`;
      names.notADir = `local:${paths.notADir}`;
      const key = { privateKeyFile: sshd.clientKey };
      const configA = join(dir, 'a.json');
      await writeFile(
        configA,
        JSON.stringify({
          // Intervals of a day: the services stay idle, only the tests contact the destinations.
          offload: {
            enabled: true,
            intervalMinutes: 1440,
            audio: sftp(paths.sftpGood, key),
            metadata: sftp(paths.sftpBad, { password: WRONG_PASSWORD }),
          },
          export: {
            enabled: true,
            intervalSeconds: 86_400,
            primary: ftps('/probe', ftp.certFile),
            secondary: ftps('/other', undefined),
          },
        }),
      );
      const configB = join(dir, 'b.json');
      await writeFile(
        configB,
        JSON.stringify({
          offload: {
            enabled: true,
            intervalMinutes: 1440,
            // sysfs: a directory where nobody, root included, may create a file.
            audio: sftp('/sys', key),
            metadata: { ...sftp('/upload', key, silentPort), timeoutSeconds: 2 },
          },
          export: {
            enabled: true,
            intervalSeconds: 86_400,
            primary: { type: 'local', directory: paths.local },
            secondary: { type: 'local', directory: paths.notADir },
          },
        }),
      );
      [a, b] = await Promise.all([
        startTestServer({ SRS_CONFIG: configA, SRS_ADMIN_PASSWORD: ADMIN_PASSWORD }, join(dir, 'data-a')),
        startTestServer({ SRS_CONFIG: configB }, join(dir, 'data-b')),
      ]);
      await Promise.all([a.waitFor(/delivery started/, 90_000), b.waitFor(/delivery started/, 90_000)]);
      await Promise.all([
        a.waitFor(/SIPREC recording server ready/, 60_000),
        b.waitFor(/SIPREC recording server ready/, 60_000),
      ]);
    });

    after(async () => {
      const codes = await Promise.all([a?.stop(), b?.stop()]);
      for (const s of silentSockets) s.destroy();
      await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
      await Promise.all([sshd?.stop(), ftp?.stop()]);
      if (a) assert.equal(codes[0], 0, `server A did not stop cleanly:\n${a.output().slice(-2000)}`);
      if (b) assert.equal(codes[1], 0, `server B did not stop cleanly:\n${b.output().slice(-2000)}`);
      await rm(dir, { recursive: true, force: true });
    });

    it('lists the configured destinations by their health names, for the console', async () => {
      const st = await call(a!, 'GET', '/delivery');
      assert.equal(st.status, 200, st.text);
      const listed = (st.json as { destinations?: { name: string; kind: string; settings: string[] }[] })
        .destinations;
      assert.deepEqual(listed, [
        { name: names.sftpGood, kind: 'sftp', settings: ['offload.audio'] },
        { name: names.sftpWrongPassword, kind: 'sftp', settings: ['offload.metadata'] },
        { name: names.ftpGood, kind: 'ftp', settings: ['export.primary'] },
        { name: names.ftpBadCert, kind: 'ftp', settings: ['export.secondary'] },
      ]);
      assert.ok(!st.text.includes(WRONG_PASSWORD) && !st.text.includes(ftp.password), 'no password listed');
    });

    it('a good SFTP destination: every step ok, no probe (nor .part) file left', async () => {
      const r = await test(a!, names.sftpGood);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, true, r.text);
      assert.equal(r.json.name, names.sftpGood);
      assert.deepEqual(stepsOf(r), ['login:ok', 'directory:ok', 'write:ok', 'read:ok', 'delete:ok']);
      for (const s of r.json.steps!) {
        assert.ok(Number.isInteger(s.ms) && s.ms >= 0, JSON.stringify(s));
        assert.equal(s.error, undefined);
      }
      assert.deepEqual(await readdir(paths.sftpGood), [], 'no probe (nor .part) file left');
    });

    it('a wrong SFTP password: fails at login with the client’s message, and no password anywhere', async () => {
      const r = await test(a!, names.sftpWrongPassword);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, false);
      assert.deepEqual(stepsOf(r), ['login:failed']);
      assert.match(r.json.steps![0]!.error!, /All configured authentication methods failed/);
      assert.ok(!r.text.includes(WRONG_PASSWORD), `the password in the reply: ${r.text}`);
      assert.ok(!a!.output().includes(WRONG_PASSWORD), 'the password in the server log');
    });

    it('FTPS with its CA trusted: every step ok and nothing left; without the CA: the TLS error at login', async () => {
      const good = await test(a!, names.ftpGood);
      assert.equal(good.status, 200, good.text);
      assert.equal(good.json.ok, true, good.text);
      assert.deepEqual(stepsOf(good), ['login:ok', 'directory:ok', 'write:ok', 'read:ok', 'delete:ok']);
      assert.deepEqual(await readdir(join(ftp.home, 'probe')), [], 'no probe (nor .part) file left');
      // The probe went up as uploads go: STOR of the .part (then RNFR/RNTO).
      const ups = await ftp.uploads();
      assert.equal(ups.length, 1, JSON.stringify(ups));
      assert.match(ups[0]!.path, /^\/probe\/\.\.srs-access-test-[0-9a-f]{12}\.part$/);

      const bad = await test(a!, names.ftpBadCert);
      assert.equal(bad.status, 200, bad.text);
      assert.equal(bad.json.ok, false);
      assert.deepEqual(stepsOf(bad), ['login:failed']);
      assert.match(
        bad.json.steps![0]!.error!,
        /TLS certificate is not trusted \(self[- ]signed certificate\)/,
      );
      assert.ok(!bad.text.includes(ftp.password), 'no FTP password in the reply');
      assert.ok(!a!.output().includes(ftp.password), 'no FTP password in the server log');
    });

    it('an SFTP directory nobody may write to fails at the write step', async () => {
      const r = await test(b!, names.sftpSys);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, false);
      assert.deepEqual(stepsOf(r), ['login:ok', 'directory:ok', 'write:failed']);
      assert.match(r.json.steps![2]!.error!, /Permission denied|Failure|Read-only/i);
    });

    it('a local destination: ok when a directory; a regular file in its place fails at the directory step', async () => {
      const good = await test(b!, names.local);
      assert.equal(good.json.ok, true, good.text);
      assert.deepEqual(stepsOf(good), ['directory:ok', 'write:ok', 'read:ok', 'delete:ok']);
      assert.deepEqual(await readdir(paths.local), [], 'no probe (nor temporary) file left');

      const bad = await test(b!, names.notADir);
      assert.equal(bad.status, 200, bad.text);
      assert.equal(bad.json.ok, false);
      assert.deepEqual(stepsOf(bad), ['directory:failed']);
      assert.match(bad.json.steps![0]!.error!, /not-a-directory is not a directory/);
    });

    it('a server that never answers: bounded by the destination’s timeout (2 s)', async () => {
      const t0 = Date.now();
      const r = await test(b!, names.silent);
      const took = Date.now() - t0;
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, false);
      assert.deepEqual(stepsOf(r), ['login:failed']);
      assert.match(r.json.steps![0]!.error!, /timed out|took longer than 2 s/i);
      assert.ok(took >= 1900 && took < 5000, `answered after ${took} ms`);
    });

    it('answers 404 for a name not configured, 401 without credentials', async () => {
      const unknown = await test(a!, 'sftp:sftp://nobody@192.0.2.1:22/nowhere');
      assert.equal(unknown.status, 404, unknown.text);
      assert.match(unknown.json.error ?? '', /no delivery destination named/);
      // A destination of the other server is not one of this one's.
      assert.equal((await test(a!, names.local)).status, 404);
      const anon = await call(
        a!,
        'POST',
        `/delivery/destinations/${encodeURIComponent(names.sftpGood)}/test`,
        false,
      );
      assert.equal(anon.status, 401);
    });

    it('audits each test with the name, ok and the failed step', async () => {
      const entries = async (s: TestServer) =>
        (
          (await call(s, 'GET', '/audit?action=delivery.destination-test&limit=100')).json as {
            items?: {
              actor: string;
              resource: string;
              resourceId: string;
              details: Record<string, unknown>;
            }[];
          }
        ).items ?? [];
      const details = ({ userAgent: _, ...rest }: Record<string, unknown>) => rest;
      const fromA = (await entries(a!)).map((e) => [e.resourceId, details(e.details)]);
      assert.deepEqual(
        fromA.sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
        [
          [names.ftpGood, { name: names.ftpGood, ok: true }],
          [names.ftpBadCert, { name: names.ftpBadCert, ok: false, step: 'login' }],
          [names.sftpGood, { name: names.sftpGood, ok: true }],
          [names.sftpWrongPassword, { name: names.sftpWrongPassword, ok: false, step: 'login' }],
        ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      );
      const fromB = await entries(b!);
      assert.deepEqual(
        fromB.map((e) => [e.resourceId, e.details.ok, e.details.step ?? null]).sort(),
        [
          [names.local, true, null],
          [names.notADir, false, 'directory'],
          [names.silent, false, 'login'],
          [names.sftpSys, false, 'write'],
        ].sort(),
      );
      for (const e of [...(await entries(a!)), ...fromB]) {
        assert.equal(e.resource, 'delivery-destination');
        assert.equal(e.actor, 'admin-token');
      }
    });

    it(
      'the Delivery page: "Test access" shows each step, ok or failed with the error',
      { skip: !existsSync(CHROMIUM) && 'chromium not installed' },
      async () => {
        const profile = await mkdtemp(join(tmpdir(), 'srs-chromium-'));
        let context: BrowserContext | undefined;
        try {
          context = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM,
            headless: true,
            locale: 'en-US',
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
          });
          const page = context.pages()[0] ?? (await context.newPage());
          await page.goto(`http://127.0.0.1:${a!.httpPort}/`);
          await page.fill('#username', 'admin');
          await page.fill('#password', ADMIN_PASSWORD);
          await page.click('#login');
          await page.click('#tab-delivery');
          const row = (name: string) => page.locator(`tr.target-row[data-name="${name}"]`);
          // Not contacted yet (the services are idle), and yet each configured destination can be tested.
          await row(names.sftpGood).filter({ hasText: 'not contacted yet' }).waitFor();
          await row(names.sftpGood).locator('button.test-access').click();
          await row(names.sftpGood).locator('li.ok[data-step="delete"]').waitFor({ timeout: 30_000 });
          assert.equal(await row(names.sftpGood).locator('li.ok').count(), 5);
          await row(names.sftpGood).getByText('Access works.').waitFor();
          assert.match(
            (await row(names.sftpGood).locator('li[data-step="write"]').textContent()) ?? '',
            /^write a probe file: ok \(\d+ ms\)$/,
          );
          await row(names.ftpBadCert).locator('button.test-access').click();
          const failed = row(names.ftpBadCert).locator('li.error[data-step="login"]');
          await failed.waitFor({ timeout: 30_000 });
          assert.match(
            (await failed.textContent()) ?? '',
            /^connect and log in: failed \(\d+ ms\): .*self[- ]signed/,
          );
          await row(names.ftpBadCert).getByText('Access failed.').waitFor();
          await mkdir(join(ROOT, 'test-artifacts', 'console'), { recursive: true });
          await page.screenshot({
            path: join(ROOT, 'test-artifacts', 'console', 'delivery-test-access.png'),
          });
          // The results stay through the page's refresh (every 5 s).
          await page.waitForTimeout(5500);
          assert.equal(await row(names.sftpGood).locator('li.ok').count(), 5);
          assert.deepEqual(await readdir(paths.sftpGood), []);
        } finally {
          await context?.close().catch(() => undefined);
          await rm(profile, { recursive: true, force: true });
        }
      },
    );
  },
);
