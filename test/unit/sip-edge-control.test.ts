/**
 * The edge's drachtio control port over real TCP on loopback, with the secret known (the embedded
 * edge draws its secret at random, so only a test of the port itself can hold it): at most
 * MAX_APP_CONNECTIONS applications are connected at once; the next ones get NOK naming the limit
 * and are closed, one warning per burst, and a place freed is taken again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlServer, MAX_APP_CONNECTIONS } from '../../src/sip/edge/control.js';
import { closedWithin, tcpConnect } from '../helpers/tcp-probe.js';

const SECRET = 'control-test-secret';

test('control port: at most 32 applications with the secret; the next refused, one warning, a freed place taken', async () => {
  const warnings: string[] = [];
  const quiet = () => undefined;
  const server = await ControlServer.start({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    version: 'test',
    hostports: () => 'udp/127.0.0.1:5060',
    log: { info: quiet, debug: quiet, error: quiet, warn: (_o, msg) => warnings.push(msg ?? '') },
    handlers: { onSip: quiet, onClose: quiet },
  });
  /** Connects and authenticates: `got` is everything the port has sent it so far. */
  const app = async (secret = SECRET) => {
    const s = await tcpConnect(server.port);
    const a = { s, got: '', ok: false };
    s.on('data', (d: Buffer) => (a.got += d.toString()));
    const msg = `a1|authenticate|${secret}|`;
    s.write(`${Buffer.byteLength(msg)}#${msg}`);
    for (let i = 0; i < 100 && !/\|response\|a1\|(OK|NOK)/.test(a.got); i++) await sleep(10);
    a.ok = /\|response\|a1\|OK\|/.test(a.got);
    return a;
  };
  try {
    assert.equal(MAX_APP_CONNECTIONS, 32);
    const apps = [];
    for (let i = 0; i < 40; i++) apps.push(await app());
    assert.deepEqual(
      apps.map((a) => a.ok),
      [...Array<boolean>(32).fill(true), ...Array<boolean>(8).fill(false)],
    );
    const refused = apps.slice(32);
    for (const a of refused) assert.match(a.got, /\|NOK\|too many applications connected \(at most 32\)$/);
    assert.ok((await Promise.all(refused.map((a) => closedWithin(a.s, 2000)))).every(Boolean), 'closed');
    // The 32 stay connected and served: a ping is answered.
    const first = apps[0] as (typeof apps)[number];
    first.s.write('8#p1|ping|');
    for (let i = 0; i < 100 && !first.got.includes('|response|p1|OK'); i++) await sleep(10);
    assert.ok(first.got.includes('|response|p1|OK'), first.got);
    assert.deepEqual(warnings, ['control port: too many applications connected, refusing'], 'one per burst');
    // A wrong secret is still a wrong secret, full or not.
    assert.match((await app('nope')).got, /NOK\|incorrect secret$/);
    // A place freed is taken again.
    first.s.destroy();
    await sleep(100);
    const again = await app();
    assert.equal(again.ok, true, again.got);
    for (const a of [...apps, again]) a.s.destroy();
  } finally {
    await server.close();
  }
});
