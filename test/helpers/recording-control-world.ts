import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeUlawWav, encodeUlaw, rmsDbfs, tone, toneLevelDb } from './audio.js';
import { gpgDecrypt } from './gpg.js';
import { buildRtp, sendRtpStream } from './rtp.js';
import { startTestServer, type TestServer } from './server.js';
import { listRecordings, removeSippErrorLogs, sipp, writeSignallingOnlyScenario } from './sipp.js';

/**
 * The world of the recording-control end-to-end tests (test/e2e/recording-control.test.ts and
 * recording-control-ondemand.test.ts): the real server, SIPREC calls signalled by SIPp with RTP
 * tones from our sender, the stored audio decrypted by gpg, and four users with their API tokens:
 * alice@example.com is the agent (user), also reachable by a record-only login (recorder); zed is
 * someone else (user zed, record-only rec2).
 */

export interface LiveCall {
  recordingId: string;
  callId: string;
  streams: { label: string | null; codec: string; port: number }[];
  control?: { mode: string; state: string; segment: number };
}
export interface Detail {
  id: string;
  state: string;
  files: { kind: string; path: string }[];
  events: { offsetMs: number; type: string; text: string }[];
}
export interface Reply {
  status: number;
  json: Record<string, unknown>;
}

export interface ControlWorld {
  server: TestServer;
  /** The API as `as` (admin: the admin token; else the user's own API token). */
  call(method: string, path: string, as?: string, body?: unknown): Promise<Reply>;
  /** `call`, asserting a 2xx answer; its JSON. */
  ok(method: string, path: string, as?: string, body?: unknown): Promise<Record<string, unknown>>;
  setMode(user: string, mode: string | null): Promise<Record<string, unknown>>;
  /** A SIPREC call of `ms` (SIPp signalling, our two RTP tone streams); `during` runs while it is live. */
  placeCall(
    ms: number,
    during: (live: LiveCall, t0: number) => Promise<void>,
    opts?: { dtmf?: { atMs: number; digits: string }[] },
  ): Promise<LiveCall>;
  /** Waits for the recording to be stored (or to disappear: keepUnstarted=none). */
  stored(id: string): Promise<Detail>;
  /** The stored WAV of a recording (its path from `srs recordings list --json`), decrypted by gpg. */
  wavOf(d: Detail & { id: string }): Promise<Int16Array>;
  /** Stops the server (asserting a clean exit) and removes SIPp's error logs of this world's scenario. */
  close(): Promise<void>;
}

export const eventAt = (d: Detail, type: string, nth = 0): number => {
  const e = d.events.filter((x) => x.type === type)[nth];
  assert.ok(e, `event ${type} #${nth} in ${JSON.stringify(d.events.map((x) => x.type))}`);
  return e.offsetMs;
};
/** Both tones present in the window (the mix of the two streams). */
export const sounds = (x: Int16Array, from: number, to: number) =>
  toneLevelDb(x, from, to, 440, 200) > -6 && toneLevelDb(x, from, to, 1000, 200) > -6;
export const silent = (x: Int16Array, from: number, to: number) => rmsDbfs(x, from, to) < -55;
/** Tones from `soundFrom` to the pause at `p`, silence until the resume at `r`, tones after it. */
export function assertPausedSpan(x: Int16Array, p: number, r: number, soundFrom = p - 900): void {
  assert.ok(sounds(x, soundFrom, p - 150), `tones before the pause at ${p}`);
  assert.ok(silent(x, p + 200, r - 200), `silence while paused ${p}..${r}: ${rmsDbfs(x, p + 200, r - 200)}`);
  assert.ok(sounds(x, r + 250, r + 1000), `tones after the resume at ${r}`);
}

/**
 * Starts the server, writes the signalling-only scenario as `<name>.xml` in its data directory (a
 * name of its own per test file: SIPp writes `<name>_<pid>_errors.log` into sip-scenarios/, and
 * `close` removes only this name's logs, so two files running side by side leave each other's
 * alone) and makes the users. The server has its own data directory and free ports
 * (startTestServer).
 */
export async function startControlWorld(name: string): Promise<ControlWorld> {
  const server = await startTestServer();
  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};
  const base = `http://127.0.0.1:${server.httpPort}`;
  const scenario = join(server.dataDir, `${name}.xml`);

  const call = async (method: string, path: string, as = 'admin', body?: unknown): Promise<Reply> => {
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${as === 'admin' ? server.token : tokens[as]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const ok = async (method: string, path: string, as = 'admin', body?: unknown) => {
    const r = await call(method, path, as, body);
    assert.ok(r.status < 300, `${method} ${path} as ${as}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const close = async (): Promise<void> => {
    await removeSippErrorLogs(name);
    const code = await server.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server.output().slice(-3000)}`);
  };

  try {
    await server.waitFor(/SIPREC recording server ready/, 60000);
    // SIPp does the signalling only (our sender plays the RTP); the call lasts `-d` ms.
    await writeSignallingOnlyScenario(scenario);
    for (const [username, role, numbers] of [
      ['agent', 'user', ['alice']],
      ['recorder', 'record-only', ['alice']],
      ['zed', 'user', ['zed']],
      ['rec2', 'record-only', ['zed']],
    ] as const) {
      const u = (await ok('POST', '/users', 'admin', {
        username,
        role,
        password: `${username}-password`,
        numbers: [...numbers],
      })) as { id: string };
      userIds[username] = u.id;
      const login = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: `${username}-password` }),
      });
      // The session lives in the HttpOnly cookie only: each user makes an API token with it.
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const t = await fetch(`${base}/api/v1/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ name: 'control-test' }),
      });
      assert.equal(t.status, 201, await t.clone().text());
      tokens[username] = ((await t.json()) as { token: string }).token;
    }
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }

  return {
    server,
    call,
    ok,
    setMode: (user, mode) => ok('PUT', `/recording-control/users/${userIds[user]}`, 'admin', { mode }),
    async placeCall(ms, during, opts = {}) {
      const done = sipp(`127.0.0.1:${server.sipPort}`, scenario, ['-d', String(ms)]);
      let live: LiveCall | undefined;
      for (let i = 0; i < 200 && !live; i++) {
        live = ((await ok('GET', '/calls')).items as LiveCall[])[0];
        if (!live) await sleep(50);
      }
      if (!live) assert.fail(`the call did not go live: ${JSON.stringify(await done)}`);
      const t0 = Date.now();
      const rtpMs = ms - 600;
      const senders = live.streams.map((s, i) =>
        i === 0 && opts.dtmf
          ? sendWithDtmf(s.port, tone(440, rtpMs, 9000), opts.dtmf)
          : sendRtpStream({
              host: '127.0.0.1',
              port: s.port,
              pt: 0,
              codec: 'PCMU',
              samples: tone(i === 0 ? 440 : 1000, rtpMs, 9000),
              ssrc: 0x2000 + i,
            }),
      );
      await during(live, t0);
      await Promise.all(senders);
      const r = await done;
      assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1500)} ${r.stderr}`);
      return live;
    },
    async stored(id) {
      for (let i = 0; ; i++) {
        const r = await call('GET', `/recordings/${id}`);
        if (r.status === 200 && (r.json as unknown as Detail).state === 'stored')
          return r.json as unknown as Detail;
        assert.ok(i < 240, `recording ${id} not stored: ${JSON.stringify(r.json).slice(0, 500)}`);
        await sleep(250);
      }
    },
    async wavOf(d) {
      const f = (await listRecordings(server))
        .find((r) => r.id === d.id)
        ?.files.find((x) => x.kind === 'wav');
      assert.ok(f, `a wav file: ${JSON.stringify(d.files)}`);
      const key = join(server.dataDir, 'keys', 'private.asc');
      return decodeUlawWav(await gpgDecrypt(key, server.passphrase, join(server.dataDir, f.path)));
    },
    close,
  };
}

/**
 * Leg 0's stream with RFC 4733 events (PT 101) in it: audio packets as usual, and at each code's
 * time its digits as telephone-events (no audio packets while a digit is sent, as phones do).
 */
async function sendWithDtmf(
  port: number,
  samples: Int16Array,
  codes: { atMs: number; digits: string }[],
): Promise<void> {
  const ulaw = encodeUlaw(samples);
  const sock = createSocket('udp4');
  const send = (b: Buffer) => new Promise<void>((res) => sock.send(b, port, '127.0.0.1', () => res()));
  const ssrc = 0x3000;
  const eventOf = (d: string) => (d === '*' ? 10 : d === '#' ? 11 : Number(d));
  let seq = 100;
  const start = Date.now();
  const pending = [...codes];
  for (let i = 0; i * 160 < ulaw.length; i++) {
    const wait = start + i * 20 - Date.now();
    if (wait > 1) await sleep(wait);
    const ts = i * 160;
    const code = pending[0];
    if (code && i * 20 >= code.atMs) {
      pending.shift();
      // Each digit: 100 ms of events (5 packets, growing duration), 3 end packets, 60 ms gap;
      // each event has its own timestamp (RFC 4733 section 2.5.1.2).
      for (const [n, d] of [...code.digits].entries()) {
        const evTs = ts + n * 1600;
        for (let k = 1; k <= 8; k++) {
          const end = k > 5;
          const dur = Math.min(k, 5) * 160;
          const payload = Buffer.from([eventOf(d), (end ? 0x80 : 0) | 10, dur >> 8, dur & 0xff]);
          await send(buildRtp({ pt: 101, seq: seq++, ts: evTs, ssrc, marker: k === 1, payload }));
          await sleep(20);
        }
        await sleep(60);
      }
      // The audio goes on where the wall clock is now (no audio was sent during the digits).
      i = Math.floor((Date.now() - start) / 20) - 1;
      continue;
    }
    await send(buildRtp({ pt: 0, seq: seq++, ts, ssrc, payload: ulaw.subarray(i * 160, (i + 1) * 160) }));
  }
  sock.close();
}
