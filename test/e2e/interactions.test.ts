/**
 * Interactions on the real server with real SIP over UDP: two SIPREC sessions whose metadata names
 * the same communication session group (RFC 7865 `<group group_id>`, as Avaya's SBC sends it for a
 * transfer or a consultation) are recorded as two recordings of one interaction; the search finds
 * the interaction's recordings and each recording's details list its parts. A session with no group
 * is in no interaction.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { decodeUlaw, decodeUlawWav, parseWav, rmsDbfs, toneLevelDb } from '../helpers/audio.js';
import { FFMPEG, ffmpegRtp, sendPaced } from '../helpers/codec-rtp.js';
import { execFile } from 'node:child_process';

const PCMU = ['-af', 'aresample=8000,asetnsamples=n=160', '-ac', '1', '-c:a', 'pcm_mulaw'];
const participant = (name: string) =>
  `  <participant participant_id="${Buffer.from(name).toString('base64')}"><nameID aor="sip:${name}@example.com"/></participant>`;

describe('interactions: SIPREC sessions of one communication session group', { timeout: 300000 }, () => {
  let server: TestServer;
  const api = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200, path);
    return (await r.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const call = async (metadataExtra?: string) => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1, ...(metadataExtra ? { metadataExtra } : {}) });
    assert.equal(inv.status, 200, inv.text);
    await uac.request('BYE');
    uac.close();
    return waitForState(server, uac.callId, 'stored');
  };
  const get = (path: string, token = server.token, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
  /** A call of the group that sends `ms` of a `hz` tone as PCMU RTP made by ffmpeg (an independent sender). */
  const toneCall = async (hz: number, metadataExtra: string) => {
    const rtp = await ffmpegRtp(PCMU, { signal: `0.3*sin(2*PI*${hz}*t)`, ms: 1000 });
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1, metadataExtra });
    assert.equal(inv.status, 200, inv.text);
    await sendPaced(inv.ports[0] as number, rtp.rtp, 20);
    await uac.request('BYE');
    uac.close();
    return waitForState(server, uac.callId, 'stored');
  };
  const GROUP = 'Nm4OTCyoxTmqmqyA/1weDAg==';
  const group = `  <group group_id="${GROUP}"><associate-time>2026-12-04T10:00:00Z</associate-time></group>`;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('links the recordings of one group, and lists them as the parts of each', async () => {
    const first = await call(group);
    const alone = await call();
    const second = await call(group);
    const listed = await api(`/recordings?interaction=${encodeURIComponent(GROUP)}`);
    assert.deepEqual(
      listed.items.map((i: { id: string }) => i.id),
      [second.id, first.id],
      'newest first, like every search',
    );
    assert.ok(listed.items.every((i: { interactionId: string }) => i.interactionId === GROUP));
    const detail = await api(`/recordings/${first.id}`);
    assert.equal(detail.interactionId, GROUP);
    assert.deepEqual(
      detail.interaction.parts.map((p: { id: string }) => p.id),
      [first.id, second.id],
      'the parts oldest first',
    );
    const lone = await api(`/recordings/${alone.id}`);
    assert.equal(lone.interactionId, null);
    assert.equal(lone.interaction, null);
    const all = await api('/recordings');
    assert.equal(all.items.find((i: { id: string }) => i.id === alone.id)?.interactionId, null);
  });

  it('takes a group first named in a re-INVITE (after the answer, as Oracle SBCs send it), and keeps the first', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    assert.equal((await uac.invite({ streams: 1 })).status, 200);
    assert.match((await uac.reinvite({ streams: 1, metadataExtra: group })) ?? '', /^SIP\/2\.0 200/);
    // A later, other group does not move it.
    const other = group.replace(GROUP, 'b3RoZXItZ3JvdXAtaWQ=');
    assert.match((await uac.reinvite({ streams: 1, metadataExtra: other })) ?? '', /^SIP\/2\.0 200/);
    await uac.request('BYE');
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    assert.equal((await api(`/recordings/${rec.id}`)).interactionId, GROUP);
    const parts = await api(`/recordings?interaction=${encodeURIComponent(GROUP)}`);
    assert.equal(parts.total, 3, 'the two of the first test and this one');
  });

  it('plays the interaction as one file: the parts in order, silence between, every part audited, only what the caller may see', async () => {
    const id = 'am9pbmVkLWludGVyYWN0aW9u';
    const g = `  <group group_id="${id}"><associate-time>2026-12-04T11:00:00Z</associate-time></group>`;
    const first = await toneCall(600, g + participant('bob'));
    const second = await toneCall(1000, g + participant('carol'));
    const path = `/interactions/${encodeURIComponent(id)}`;

    // WAV: exactly the two stored mixes with 500 ms of digital silence between them.
    const r = await get(`${path}/audio?format=wav&gapMs=500`);
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('srs-interaction-parts'), `${first.id},${second.id}`);
    const joined = Buffer.from(await r.arrayBuffer());
    const partOf = async (recId: string) => {
      const a = await get(`/recordings/${recId}/audio?format=wav`);
      assert.equal(a.status, 200);
      return parseWav(Buffer.from(await a.arrayBuffer())).data;
    };
    const [a, b] = [await partOf(first.id), await partOf(second.id)];
    const data = parseWav(joined).data;
    assert.equal(data.length, a.length + 4000 + b.length, 'both parts and the gap, nothing else');
    assert.ok(data.subarray(0, a.length).equals(a), 'the first part as stored');
    assert.ok(
      data.subarray(a.length, a.length + 4000).every((x) => x === 0xff),
      'the gap is silence',
    );
    assert.ok(data.subarray(a.length + 4000).equals(b), 'then the second part as stored');
    const x = decodeUlawWav(joined);
    const aMs = a.length / 8;
    assert.ok(toneLevelDb(x, 0, aMs, 600) > -3, 'the first part is the 600 Hz call');
    assert.ok(toneLevelDb(x, 0, aMs, 1000) < -20);
    assert.equal(rmsDbfs(x, aMs + 20, aMs + 480), -Infinity);
    assert.ok(toneLevelDb(x, aMs + 500, aMs + 500 + b.length / 8, 1000) > -3, 'then the 1000 Hz call');

    // MP3 (default): the pipeline's encoder over the same join, as long and as it sounds.
    const m = await get(`${path}/audio`);
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), 'audio/mpeg');
    const mp3 = Buffer.from(await m.arrayBuffer());
    const decoded = await decodeMp3(mp3);
    const totalMs = aMs + 1000 + b.length / 8;
    assert.ok(
      Math.abs(decoded.length / 8 - totalMs) < 150,
      `MP3 ${decoded.length / 8} ms, join ${totalMs} ms`,
    );
    assert.ok(toneLevelDb(decoded, 100, aMs - 100, 600) > -3);
    assert.ok(toneLevelDb(decoded, aMs + 1100, totalMs - 100, 1000) > -3);
    // A player's range request: the same bytes.
    const part = await get(`${path}/audio`, server.token, { range: 'bytes=100-199' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${mp3.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(mp3.subarray(100, 200)));

    // Each part is audited as played and as downloaded (WAV), naming the interaction.
    for (const rec of [first, second]) {
      const audit = (await api(`/audit?resourceId=${rec.id}`)).items as {
        action: string;
        details: { interaction?: string; format?: string };
      }[];
      const acts = audit
        .filter((e) => e.details.interaction === id)
        .map((e) => `${e.action}:${e.details.format}`);
      assert.ok(acts.includes('playback:mp3') && acts.includes('download:wav'), acts.join());
    }

    // A user who may see only the first part hears only the first part.
    const made = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-password-1', role: 'user', numbers: ['bob'] }),
    });
    assert.equal(made.status, 201, await made.text());
    const login = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-password-1' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const asBob = (p: string) =>
      fetch(`http://127.0.0.1:${server.httpPort}/api/v1${p}`, { headers: { cookie } });
    const seen = await asBob(path);
    assert.equal(seen.status, 200);
    assert.deepEqual(
      ((await seen.json()) as { parts: { id: string }[] }).parts.map((p) => p.id),
      [first.id],
    );
    const bobs = await asBob(`${path}/audio?format=wav`);
    assert.equal(bobs.status, 200);
    assert.equal(bobs.headers.get('srs-interaction-parts'), first.id);
    assert.ok(parseWav(Buffer.from(await bobs.arrayBuffer())).data.equals(a), 'his part alone');

    // Refusals.
    assert.equal((await get('/interactions/bm8tc3VjaC1ncm91cA/audio')).status, 404);
    assert.equal(
      (await asBob(`/interactions/${encodeURIComponent(GROUP)}/audio`)).status,
      404,
      'not his calls',
    );
    assert.equal((await get(`${path}/audio?gapMs=99999`)).status, 400);
    assert.equal((await get(`${path}/audio?format=flac`)).status, 400);
  });
});

/** An MP3 decoded by ffmpeg (an independent decoder) to 8 kHz linear samples. */
async function decodeMp3(mp3: Buffer): Promise<Int16Array> {
  const p = execFile(
    FFMPEG,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'mp3',
      '-i',
      'pipe:0',
      '-f',
      'mulaw',
      '-ac',
      '1',
      '-ar',
      '8000',
      'pipe:1',
    ],
    {
      encoding: 'buffer',
      maxBuffer: 1 << 26,
    },
  );
  const out: Buffer[] = [];
  p.stdout?.on('data', (d: Buffer) => out.push(d));
  p.stdin?.end(mp3);
  const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
  assert.equal(code, 0, 'ffmpeg decodes the MP3');
  return decodeUlaw(Buffer.concat(out));
}
