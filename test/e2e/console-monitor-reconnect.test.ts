/**
 * The console's Live page when the server closes its monitor socket (real Chromium, the real
 * server with SRS_MONITOR_MAX_PER_USER=1, the page loaded through a TCP relay that counts the
 * /monitor handshakes reaching the server):
 * - over the per-user cap (another session of the same user holds the one socket allowed), each
 *   attempt is closed with 4429: the page backs off (a few attempts in 10 s, not one a second) and
 *   says why; once the other socket closes it connects again and the message goes;
 * - revoked (its session logged out: 4401), it does not try again, and the sign-in form comes back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, CHROMIUM, startConsoleWorld, type ConsoleWorld } from '../helpers/console-world.js';

/** A TCP relay to `port` that counts the WebSocket handshakes for /monitor it carries. */
async function countingRelay(port: number): Promise<{ server: Server; port: number; monitor: () => number }> {
  let monitor = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    let tail = '';
    client.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      monitor += text.match(/GET \/monitor[ ?]/g)?.length ?? 0;
      tail = text.slice(-16);
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return { server, port: typeof a === 'object' && a ? a.port : 0, monitor: () => monitor };
}

describe(
  'web console in Chromium: the live monitor backs off when the server closes it',
  { timeout: 150000, skip: !existsSync(CHROMIUM) && 'chromium not installed' },
  () => {
    let w: ConsoleWorld;
    let relay: Awaited<ReturnType<typeof countingRelay>>;

    before(async () => {
      w = await startConsoleWorld('console-reconnect', { env: { SRS_MONITOR_MAX_PER_USER: '1' } });
      relay = await countingRelay(w.server.httpPort);
    });
    after(async () => {
      relay?.server.close();
      await w?.close();
    });

    it('backs off after 4429 and says why, connects again once a slot is free', async (t) => {
      const { page, base } = w;
      // Another session of admin holds the one monitor socket admin may have.
      const login = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      assert.equal(login.status, 200);
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const other = new WebSocket(`ws://127.0.0.1:${w.server.httpPort}/monitor`, { headers: { cookie } });
      await new Promise((resolve, reject) => {
        other.once('message', resolve);
        other.once('error', reject);
      });

      await page.goto(`http://127.0.0.1:${relay.port}/`);
      await w.logIn(ADMIN_PASSWORD);
      await page.waitForSelector('#tab-live.active');
      const from = relay.monitor();
      assert.ok(from >= 1, 'the page tried to connect');
      await sleep(10000);
      const attempts = relay.monitor() - from;
      t.diagnostic(`monitor handshakes in the 10 s after the first 4429: ${attempts}`);
      if (attempts > 4) other.close();
      assert.ok(attempts <= 4, `monitor handshakes in the 10 s after the first 4429: ${attempts}`);
      assert.match(
        (await page.textContent('#live-status')) ?? '',
        /^Too many open monitor windows for your account: close some\. Reconnecting in \d+ s\.$/,
      );

      // The other window closes: the page gets its socket at its next attempt, and says nothing more.
      other.close();
      await page.waitForFunction(() => document.querySelector('#live-status')?.textContent === '', null, {
        timeout: 70000,
      });
      await page.waitForSelector('#no-calls:visible');
    });

    it('does not try again after its session is ended (4401), and asks to sign in', async (t) => {
      const { page, base } = w;
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === 'srs_session');
      assert.ok(session, 'the page is signed in');
      const before = relay.monitor();
      const out = await fetch(`${base}/api/v1/logout`, {
        method: 'POST',
        headers: { cookie: `srs_session=${session.value}` },
      });
      assert.ok(out.status < 300, `logout: ${out.status}`);
      await sleep(6000);
      t.diagnostic(`monitor handshakes in the 6 s after the 4401: ${relay.monitor() - before}`);
      assert.equal(relay.monitor() - before, 0, 'no monitor handshake after the 4401');
      // The session is gone: the sign-in form is back.
      await page.waitForSelector('#login', { timeout: 10000 });
    });
  },
);
