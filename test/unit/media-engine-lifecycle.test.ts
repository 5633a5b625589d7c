// The native media engine's failures and lifetime over real UDP on loopback: a taken port, a
// missing or stale addon, a process that exits with an idle engine, and a killed process whose
// spool still mixes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidStateError } from '../../src/errors.js';
import {
  loadMediaEngine,
  MediaEngineLoadError,
  mixSpool,
  PortInUseError,
  PortPool,
  type MediaEngine,
} from '../../src/media/index.js';
import { decodeUlawWav, onset, tone, toneLevelDb } from '../helpers/audio.js';
import { sendRtpStream } from '../helpers/rtp.js';

const HOST = '127.0.0.1';

describe('media engine lifecycle', () => {
  let dir: string;
  let engine: MediaEngine;
  let pool: PortPool;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-media-life-'));
    // A random slice of the ephemeral-free range, so parallel test files do not collide.
    const base = 30000 + 2 * Math.floor(Math.random() * 10000);
    pool = new PortPool(base, base + 99);
    engine = loadMediaEngine({ bindAddress: HOST });
  });

  after(async () => {
    engine.close();
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("throws PortInUseError and releases the session's other sockets", async () => {
    const [p0, p1] = pool.allocate(2) as [number, number];
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(p1, HOST, resolve));
    try {
      assert.throws(
        () =>
          engine.openSession({
            recordingId: 'busy',
            spoolDir: join(dir, 'busy'),
            legs: [
              { legId: 'a', port: p0, payloadTypes: { 0: 'PCMU' } },
              { legId: 'b', port: p1, payloadTypes: { 0: 'PCMU' } },
            ],
          }),
        (err: unknown) => err instanceof PortInUseError && err.port === p1 && err.code === 'ERR_PORT_IN_USE',
      );
      assert.equal(engine.activeSessions, 0);
      const probe: Socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.bind(p0, HOST, resolve);
      });
      probe.close();
    } finally {
      blocker.close();
    }
    // The same spool directory can be used once the ports are free; a second open of one id cannot.
    engine.openSession({
      recordingId: 'busy',
      spoolDir: join(dir, 'busy'),
      legs: [{ legId: 'a', port: p0, payloadTypes: {} }],
    });
    assert.throws(
      () =>
        engine.openSession({
          recordingId: 'busy',
          spoolDir: join(dir, 'busy2'),
          legs: [{ legId: 'a', port: p1, payloadTypes: {} }],
        }),
      InvalidStateError,
    );
    engine.closeSession('busy');
    pool.release([p0, p1]);
  });

  it('explains a missing addon: what was tried and how to fix it', () => {
    const path = join(dir, 'no-such', 'srs_media.node');
    assert.throws(
      () => loadMediaEngine({ bindAddress: HOST, addonPath: path }),
      (err: unknown) =>
        err instanceof MediaEngineLoadError &&
        err.message.includes(path) &&
        err.message.includes('Cannot find module') &&
        err.message.includes('npm rebuild') &&
        /python3, make and g\+\+/.test(err.message),
    );
  });

  it('catches a stale build: addon version differs from package.json', async () => {
    const fake = join(dir, 'stale.cjs');
    await writeFile(fake, "module.exports = { version: '0.0.0-stale' };\n");
    assert.throws(
      () => loadMediaEngine({ bindAddress: HOST, addonPath: fake }),
      (err: unknown) =>
        err instanceof MediaEngineLoadError && /0\.0\.0-stale/.test(err.message) && /stale/.test(err.message),
    );
  });

  it('lets the process exit, and a killed process leaves a spool that still mixes', async () => {
    const [port] = pool.allocate(1) as [number];
    const spoolDir = join(dir, 'killed');
    const engineUrl = new URL('../../src/media/engine.ts', import.meta.url).href;
    const script = `
      import { loadMediaEngine } from ${JSON.stringify(engineUrl)};
      const idle = loadMediaEngine({ bindAddress: '${HOST}' }); // never closed: must not keep the process alive
      const e = loadMediaEngine({ bindAddress: '${HOST}' });
      e.openSession({ recordingId: 'k', spoolDir: ${JSON.stringify(spoolDir)},
        legs: [{ legId: 'leg0', port: ${port}, payloadTypes: { 0: 'PCMU' } }] });
      console.log('ready');
      if (process.argv.includes('--close')) { e.closeSession('k'); e.close(); }
    `;
    const run = (args: string[]) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const ready = new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
      const exited = new Promise<number | null>((resolve) =>
        child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
      );
      return { child, ready, exited };
    };

    const killed = run([]);
    await killed.ready;
    await sendRtpStream({ host: HOST, port, pt: 0, codec: 'PCMU', samples: tone(440, 600), ssrc: 9 });
    await sleep(600); // at least one spool flush (every 450 ms)
    killed.child.kill('SIGKILL');
    assert.equal(await killed.exited, -1);
    const r = await mixSpool({ spoolDir, wavPath: join(dir, 'killed.wav') });
    assert.ok(r.durationMs >= 550, `recovered ${r.durationMs} ms`);
    const pcm = decodeUlawWav(await readFile(join(dir, 'killed.wav')));
    const on = onset(pcm, 0) / 8;
    assert.ok(toneLevelDb(pcm, on + 50, on + 550, 440) > -1);

    await rm(spoolDir, { recursive: true });
    const closed = run(['--close']);
    const timeout = new AbortController();
    const code = await Promise.race([
      closed.exited,
      sleep(10000, 'timeout', { signal: timeout.signal }).catch(() => 'aborted'),
    ]);
    timeout.abort();
    assert.equal(code, 0, 'a process that closed its engine (and left another idle) exits');
    pool.release([port]);
  });
});
