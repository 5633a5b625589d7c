/**
 * Recording control end to end: the real server, SIPREC calls signalled by SIPp with RTP
 * tones from our sender, and the stored audio decrypted by gpg and checked by its sound. Record
 * modes per user (always-pause, always, on-demand under both onDemandFrom settings), pause/resume/
 * start/stop through the REST API, the phone code *7 as RFC 4733 events in the forked stream,
 * who may act (record-only and other users), events on the timeline and entries in the audit trail.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SCENARIOS, listRecordings, sipp } from '../helpers/sipp.js';
import { buildRtp, sendRtpStream } from '../helpers/rtp.js';
import { decodeUlawWav, rmsDbfs, tone, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';

interface LiveCall {
  recordingId: string;
  callId: string;
  streams: { label: string | null; codec: string; port: number }[];
  control?: { mode: string; state: string; segment: number };
}
interface Detail {
  id: string;
  state: string;
  files: { kind: string; path: string }[];
  events: { offsetMs: number; type: string; text: string }[];
}
interface Reply {
  status: number;
  json: Record<string, unknown>;
}

describe('recording control (SIPp + RTP -> srs serve -> gpg)', { timeout: 400000 }, () => {
  let server: TestServer;
  let base: string;
  let scenario: string;
  const tokens: Record<string, string> = {};
  const userIds: Record<string, string> = {};

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
  const setMode = (user: string, mode: string | null) =>
    ok('PUT', `/recording-control/users/${userIds[user]}`, 'admin', { mode });

  /** A SIPREC call of `ms` (SIPp signalling, our two RTP tone streams); `during` runs while it is live. */
  const placeCall = async (
    ms: number,
    during: (live: LiveCall, t0: number) => Promise<void>,
    opts: { dtmf?: { atMs: number; digits: string }[] } = {},
  ): Promise<LiveCall> => {
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
  };

  /** Waits for the recording to be stored (or to disappear: keepUnstarted=none). */
  const stored = async (id: string): Promise<Detail> => {
    for (let i = 0; ; i++) {
      const r = await call('GET', `/recordings/${id}`);
      if (r.status === 200 && (r.json as unknown as Detail).state === 'stored')
        return r.json as unknown as Detail;
      assert.ok(i < 240, `recording ${id} not stored: ${JSON.stringify(r.json).slice(0, 500)}`);
      await sleep(250);
    }
  };
  /** The stored WAV of a recording (its path from `srs recordings list --json`), decrypted by gpg. */
  const wavOf = async (d: Detail & { id: string }): Promise<Int16Array> => {
    const f = (await listRecordings(server)).find((r) => r.id === d.id)?.files.find((x) => x.kind === 'wav');
    assert.ok(f, `a wav file: ${JSON.stringify(d.files)}`);
    const key = join(server.dataDir, 'keys', 'private.asc');
    return decodeUlawWav(await gpgDecrypt(key, server.passphrase, join(server.dataDir, f.path)));
  };
  const eventAt = (d: Detail, type: string, nth = 0): number => {
    const e = d.events.filter((x) => x.type === type)[nth];
    assert.ok(e, `event ${type} #${nth} in ${JSON.stringify(d.events.map((x) => x.type))}`);
    return e.offsetMs;
  };
  /** Both tones present in the window (the mix of the two streams). */
  const sounds = (x: Int16Array, from: number, to: number) =>
    toneLevelDb(x, from, to, 440, 200) > -6 && toneLevelDb(x, from, to, 1000, 200) > -6;
  const silent = (x: Int16Array, from: number, to: number) => rmsDbfs(x, from, to) < -55;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
    base = `http://127.0.0.1:${server.httpPort}`;
    // SIPp does the signalling only (our sender plays the RTP); the call lasts `-d` ms.
    const src = await readFile(join(SCENARIOS, 'siprec-basic.xml'), 'utf8');
    const text = src
      .replace(/<nop>\s*<action>\s*<exec play_pcap_audio="[^"]*"\s*\/>\s*<\/action>\s*<\/nop>/, '')
      .replace(/<pause milliseconds="\d+"\s*\/>/, '<pause />');
    assert.notEqual(text, src);
    scenario = join(server.dataDir, 'siprec-control.xml');
    await writeFile(scenario, text);
    // alice@example.com is the agent (user), also reachable by a record-only login; zed is someone else.
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
  });

  after(async () => {
    for (const f of await readdir(SCENARIOS).catch(() => [] as string[]))
      if (/^siprec-control_\d+_errors\.log$/.test(f)) await rm(join(SCENARIOS, f), { force: true });
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('always-pause: the agent pauses and resumes through the API; silence in between, events, audit', async () => {
    await setMode('agent', 'always-pause');
    const live = await placeCall(7000, async (c, t0) => {
      assert.equal(
        c.control?.mode,
        'always-pause',
        JSON.stringify([c, await ok('GET', '/recording-control')]),
      );
      await sleep(Math.max(0, t0 + 2000 - Date.now()));
      assert.equal((await call('POST', `/calls/${c.recordingId}/pause`, 'agent')).status, 200);
      // A second pause is a conflict; someone else's user does not see the call at all.
      assert.equal((await call('POST', `/calls/${c.recordingId}/pause`, 'agent')).status, 409);
      assert.equal((await call('POST', `/calls/${c.recordingId}/resume`, 'zed')).status, 404);
      await sleep(Math.max(0, t0 + 4000 - Date.now()));
      // By extension, as a CTI integration would (API token of the admin here).
      assert.equal((await call('POST', '/calls/resume?number=alice', 'agent')).status, 200);
    });
    const d = await stored(live.recordingId);
    const p = eventAt(d, 'recording-paused');
    const r = eventAt(d, 'recording-resumed');
    assert.ok(r - p > 1500, `paused ${p}..${r}`);
    const x = await wavOf(d);
    assert.ok(sounds(x, p - 900, p - 150), `tones before the pause at ${p}`);
    assert.ok(
      silent(x, p + 200, r - 200),
      `silence while paused ${p}..${r}: ${rmsDbfs(x, p + 200, r - 200)}`,
    );
    assert.ok(sounds(x, r + 250, r + 1000), `tones after the resume at ${r}`);
    const audit = (await ok('GET', `/audit?resourceId=${live.recordingId}`)).items as {
      action: string;
      actor: string;
      via: string;
    }[];
    const acts = audit.map((a) => `${a.action}:${a.actor}:${a.via}`);
    assert.ok(acts.includes('recording.pause:agent:api'), acts.join());
    assert.ok(acts.includes('recording.resume:agent:api'), acts.join());
    assert.ok(acts.includes('recording.pause-refused:agent:api'), acts.join());
  });

  it('always: the agent is refused (403, audited); record-only controls only its own calls, sees no recording', async () => {
    await setMode('agent', 'always');
    let id = '';
    await placeCall(4000, async (c) => {
      id = c.recordingId;
      assert.equal(c.control?.mode, 'always');
      const r = await call('POST', `/calls/${c.recordingId}/pause`, 'agent');
      assert.equal(r.status, 403, JSON.stringify(r.json));
      assert.equal((await call('POST', `/calls/${c.recordingId}/pause`, 'recorder')).status, 403);
    });
    await stored(id);
    const refused = (await ok('GET', `/audit?action=recording.pause-refused&resourceId=${id}`)).items as {
      actor: string;
    }[];
    assert.deepEqual(refused.map((a) => a.actor).sort(), ['agent', 'recorder']);

    await setMode('agent', 'always-pause');
    let own = '';
    await placeCall(4000, async (c) => {
      own = c.recordingId;
      // The record-only user sees its own live call (to control it), pauses and resumes it.
      const calls = (await ok('GET', '/calls', 'recorder')).items as LiveCall[];
      assert.deepEqual(
        calls.map((x) => x.recordingId),
        [c.recordingId],
      );
      assert.equal((await call('POST', `/calls/${c.recordingId}/pause`, 'recorder')).status, 200);
      assert.equal((await call('POST', `/calls/${c.recordingId}/resume`, 'recorder')).status, 200);
      // zed's calls are not theirs: none visible, none controllable.
      assert.deepEqual((await ok('GET', '/calls', 'zed')).items, []);
      assert.equal((await call('POST', '/calls/pause?number=alice', 'zed')).status, 404);
      assert.equal((await call('POST', `/calls/${c.recordingId}/pause`, 'rec2')).status, 404);
      assert.equal((await call('GET', `/calls/${c.recordingId}/control`, 'rec2')).status, 404);
      assert.deepEqual((await ok('GET', '/calls', 'rec2')).items, []);
    });
    await stored(own);
    // Every recording route of the API (from its OpenAPI document), on the user's own recording.
    const doc = (await ok('GET', '/openapi.json')) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/recordings'))
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => [m.toUpperCase(), path.replace(/\{[^}]+\}/g, own)]),
      );
    assert.ok(routes.length >= 10, JSON.stringify(routes));
    for (const [method, path] of routes as [string, string][]) {
      const r = await call(
        method,
        path,
        'recorder',
        method === 'GET' || method === 'DELETE' ? undefined : {},
      );
      assert.equal(r.status, 404, `${method} ${path}: ${r.status}`);
    }
  });

  it('on-demand never started and never: no audio file, no plaintext, a catalogue row without files; counted', async () => {
    await setMode('agent', 'on-demand');
    await ok('PUT', '/recording-control/settings', 'admin', {
      keepUnstarted: 'metadata',
      onDemandFrom: 'press',
    });
    const live = await placeCall(3500, async (c) => assert.equal(c.control?.state, 'not-started'));
    const d = await stored(live.recordingId);
    assert.deepEqual(d.files, []);
    assert.equal(existsSync(join(server.dataDir, 'spool', live.recordingId)), false, 'spool wiped');
    const day = join(server.dataDir, 'recordings');
    const all = existsSync(day) ? await readdir(day, { recursive: true }) : [];
    assert.equal(all.filter((f) => String(f).includes(live.recordingId)).length, 0, 'no audio file');
    // keepUnstarted=none: not even the row.
    await ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'none' });
    const gone = await placeCall(3000, async () => undefined);
    for (let i = 0; ; i++) {
      const r = await call('GET', `/recordings/${gone.recordingId}`);
      if (r.status === 404) break;
      assert.ok(i < 120, `row still there: ${r.status}`);
      await sleep(250);
    }
    assert.equal(existsSync(join(server.dataDir, 'spool', gone.recordingId)), false, 'spool wiped');
    await ok('PUT', '/recording-control/settings', 'admin', { keepUnstarted: 'metadata' });

    // never: answered, media dropped (counted as paused packets), nothing to control, counted.
    await setMode('agent', 'never');
    const never = await placeCall(3000, async (c) => {
      assert.equal(c.control?.state, 'not-recorded');
      assert.equal((await call('POST', `/calls/${c.recordingId}/start`, 'admin')).status, 409);
    });
    const n = await stored(never.recordingId);
    assert.deepEqual(n.files, []);
    assert.equal(existsSync(join(server.dataDir, 'spool', never.recordingId)), false, 'spool wiped');
    const counts = (await ok('GET', '/recording-control')).notRecorded as Record<string, number>;
    assert.deepEqual(counts, { never: 1, 'on-demand': 2 });
    await setMode('agent', 'on-demand');
  });

  it('on-demand started mid-call: audio from the press (press), or the whole call (call)', async () => {
    for (const from of ['press', 'call'] as const) {
      await ok('PUT', '/recording-control/settings', 'admin', { onDemandFrom: from });
      const live = await placeCall(6000, async (c, t0) => {
        await sleep(Math.max(0, t0 + 2500 - Date.now()));
        assert.equal((await call('POST', `/calls/${c.recordingId}/start`, 'agent')).status, 200);
      });
      const d = await stored(live.recordingId);
      const s = eventAt(d, 'recording-started');
      const x = await wavOf(d);
      assert.ok(sounds(x, s + 250, s + 1200), `${from}: tones after the start at ${s}`);
      if (from === 'press') assert.ok(silent(x, 300, s - 200), `press: silence before the start at ${s}`);
      else assert.ok(sounds(x, 600, s - 200), `call: the time before the start at ${s} is kept`);
    }
  });

  it('stop then start: two segments of one recording, with events', async () => {
    await ok('PUT', '/recording-control/settings', 'admin', { onDemandFrom: 'press' });
    const live = await placeCall(7500, async (c, t0) => {
      const at = async (ms: number, action: string) => {
        await sleep(Math.max(0, t0 + ms - Date.now()));
        const r = await call('POST', `/calls/${c.recordingId}/${action}`, 'agent');
        assert.equal(r.status, 200, `${action}: ${JSON.stringify(r.json)}`);
        return r.json;
      };
      assert.equal((await at(1000, 'start')).segment, 1);
      await at(3000, 'stop');
      assert.equal((await at(5000, 'start')).segment, 2);
    });
    const d = await stored(live.recordingId);
    const s1 = eventAt(d, 'recording-started', 0);
    const stop = eventAt(d, 'recording-stopped');
    const s2 = eventAt(d, 'recording-started', 1);
    assert.match(
      d.events.find((e) => e.type === 'recording-started' && e.offsetMs === s2)?.text ?? '',
      /segment=2/,
    );
    const x = await wavOf(d);
    assert.ok(sounds(x, s1 + 250, stop - 150), 'segment 1');
    assert.ok(silent(x, stop + 200, s2 - 200), 'nothing kept between stop and start');
    assert.ok(sounds(x, s2 + 250, s2 + 1200), 'segment 2');
  });

  it('phone codes: *7 then *8 in the RTP (RFC 4733) pause and resume; the digits are not in the audio', async () => {
    await setMode('agent', 'always-pause');
    await ok('PUT', '/recording-control/settings', 'admin', { dtmf: { pause: '*7', resume: '*8' } });
    const live = await placeCall(6000, async () => undefined, {
      dtmf: [
        { atMs: 2000, digits: '*7' },
        { atMs: 3600, digits: '*8' },
      ],
    });
    const d = await stored(live.recordingId);
    const p = eventAt(d, 'recording-paused');
    const r = eventAt(d, 'recording-resumed');
    assert.match(d.events.find((e) => e.type === 'recording-paused')?.text ?? '', /channel=phone/);
    assert.match(d.events.find((e) => e.type === 'recording-resumed')?.text ?? '', /channel=phone/);
    assert.ok(r > p + 1000, `resumed (${r} ms) after the pause (${p} ms)`);
    const x = await wavOf(d);
    assert.ok(sounds(x, 600, 1900), 'tones before the code');
    // No DTMF tone (the row/column frequencies of *, 7 and 8) anywhere in the file.
    for (const f of [941, 1209, 852, 1336])
      for (let ms = 0; ms + 200 < x.length / 8; ms += 100)
        assert.ok(toneLevelDb(x, ms, ms + 200, f, 200) < -15, `no ${f} Hz at ${ms} ms`);
    assert.ok(silent(x, p + 200, r - 200), `silence between *7 (${p} ms) and *8 (${r} ms)`);
    assert.ok(sounds(x, r + 300, r + 1200), `tones again after *8 at ${r}`);
    const audit = (await ok('GET', `/audit?action=recording.pause&resourceId=${live.recordingId}`)).items as {
      actor: string;
      via: string;
    }[];
    // The phone acts as the user owning the sender's number (agent and recorder share alice: the first by name).
    assert.deepEqual(
      audit.map((a) => [a.actor, a.via]),
      [['agent', 'phone']],
    );
  });
});

/**
 * Leg 0's stream with RFC 4733 events (PT 101) in it: audio packets as usual, and at each code's
 * time its digits as telephone-events (no audio packets while a digit is sent, as phones do).
 */
async function sendWithDtmf(
  port: number,
  samples: Int16Array,
  codes: { atMs: number; digits: string }[],
): Promise<void> {
  const { encodeUlaw } = await import('../helpers/audio.js');
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
