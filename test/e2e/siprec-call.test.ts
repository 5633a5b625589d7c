/**
 * End to end: the real server (`srs serve` as a child process with its embedded Postgres, edge,
 * drachtio-srf app, native engine and pipeline), a SIPREC call placed by SIPp with two RTP flows,
 * and the result checked as a user would: the catalogue via `srs recordings list --json`, the
 * encrypted files decrypted by the real gpg, the WAV checked by its sound, no plaintext left.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SRS_BIN, run, startTestServer, type TestServer } from '../helpers/server.js';
import { sipp as sippAt, waitForState } from '../helpers/sipp.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { readWithWavPackage } from '../helpers/wav-package.js';
import { decodeUlawWav, parseWav, toneLevelDb } from '../helpers/audio.js';

/** ms of the first 40 ms window (5 ms steps) where `freq` carries most of the energy. */
function onsetMs(x: Int16Array, freq: number): number {
  for (let ms = 0; ms + 40 <= x.length / 8; ms += 5)
    if (toneLevelDb(x, ms, ms + 40, freq, 200) > -4) return ms;
  return -1;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

const sipp = (server: TestServer, scenario: string, extra: string[] = []): ReturnType<typeof run> =>
  sippAt(`127.0.0.1:${server.sipPort}`, scenario, extra);

describe('SIPREC call end to end (SIPp -> srs serve -> gpg)', { timeout: 240000 }, () => {
  let server: TestServer;
  const monitorMessages: { type: string; call?: { callId: string } }[] = [];
  let ws: WebSocket;

  before(async () => {
    server = await startTestServer({ SRS_FIRST_KEY_TYPE: 'rsa4096' }); // the default key type
    await server.waitFor(/SIPREC recording server ready/, 60000);
    ws = new WebSocket(`ws://127.0.0.1:${server.httpPort}/monitor`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    ws.on('message', (d) => monitorMessages.push(JSON.parse(String(d)) as { type: string }));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  });

  after(async () => {
    ws?.close();
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('refuses a monitor connection without the token', async () => {
    const bad = new WebSocket(`ws://127.0.0.1:${server.httpPort}/monitor?token=wrong`);
    const status = await new Promise<number>((resolve) => {
      bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      bad.once('open', () => resolve(101));
      bad.once('error', () => resolve(-1));
    });
    assert.equal(status, 401);
  });

  it('records a two-party call: catalogue, gpg-readable files, both tones at their times, no plaintext', async () => {
    const r = await sipp(server, 'siprec-basic.xml', [
      '-trace_msg',
      '-message_file',
      join(server.dataDir, 'sipp-basic.log'),
    ]);
    const trace = await readFile(join(server.dataDir, 'sipp-basic.log'), 'utf8').catch(() => '');
    assert.equal(r.code, 0, `sipp failed (${r.code}): ${r.stdout.slice(-2000)} ${r.stderr}`);
    const callId = /Call-ID: (\S+)/.exec(trace)?.[1];
    assert.ok(callId, 'Call-ID found in the SIPp trace');
    // The 200 OK answered recvonly with each label echoed and the SRS feature tag.
    const ok = trace.slice(trace.indexOf('SIP/2.0 200 OK'));
    assert.match(ok, /Contact: <sip:[^>]+>;\+sip\.srs/);
    assert.equal(ok.match(/a=recvonly/g)?.length, 2);
    assert.match(ok, /a=label:1[\s\S]*a=label:2/);

    const rec = await waitForState(server, callId, 'stored');
    assert.equal(rec.sessionId, 'c2lwcC1zZXNzaW9uLTAwMQ==');
    assert.ok(
      rec.durationMs && rec.durationMs >= 3000 && rec.durationMs < 10000,
      `duration ${rec.durationMs}`,
    );
    assert.ok(rec.endedAt && rec.startedAt);
    const byAor = new Map(rec.participants.map((p) => [p.aor, p]));
    assert.deepEqual(byAor.get('sip:alice@example.com')?.sends, ['1']);
    assert.equal(byAor.get('sip:alice@example.com')?.name, 'Alice Example');
    assert.deepEqual(byAor.get('sip:bob@example.com')?.sends, ['2']);

    // Monitor saw the call start and end.
    const types = monitorMessages.map((m) => `${m.type}:${m.call?.callId ?? ''}`);
    assert.ok(types.includes('snapshot:'), types.join());
    assert.ok(types.includes(`call-start:${callId}`), types.join());
    assert.ok(types.includes(`call-end:${callId}`), types.join());

    // Encrypted files in data/recordings/YYYY/MM/DD, readable by the real gpg with the generated key.
    const day = rec.startedAt.slice(0, 10).replaceAll('-', '/');
    const wavFile = rec.files.find((f) => f.kind === 'wav');
    const mp3File = rec.files.find((f) => f.kind === 'mp3');
    assert.ok(wavFile && mp3File, 'wav and mp3 files catalogued');
    assert.ok(wavFile.path.includes(join('recordings', day)), wavFile.path);
    assert.match(wavFile.path, /\.wav\.gpg$/);
    const privateKey = join(server.dataDir, 'keys', 'private.asc');
    const wav = await gpgDecrypt(privateKey, server.passphrase, join(server.dataDir, wavFile.path));
    const mp3 = await gpgDecrypt(privateKey, server.passphrase, join(server.dataDir, mp3File.path));
    assert.ok(
      mp3.subarray(0, 3).toString() === 'ID3' || (mp3[0] === 0xff && ((mp3[1] ?? 0) & 0xe0) === 0xe0),
      'MP3 frame',
    );

    // The mixed WAV: G.711 u-law mono 8 kHz; alice's 440 Hz at t0..t0+2 s, bob's 1000 Hz from t0+1 s.
    const info = parseWav(wav);
    assert.equal(info.formatTag, 7);
    assert.equal(info.channels, 1);
    assert.equal(info.sampleRate, 8000);
    // An independent reader (the `wav` package) agrees on the header and the data size.
    const independent = await readWithWavPackage(wav);
    assert.equal(independent.format.audioFormat, 7);
    assert.equal(independent.format.ulaw, true);
    assert.equal(independent.format.bitDepth, 8);
    assert.equal(independent.dataBytes, info.data.length);
    assert.equal(info.factSamples, info.data.length);
    const pcm = decodeUlawWav(wav);
    const a = onsetMs(pcm, 440);
    const b = onsetMs(pcm, 1000);
    assert.ok(a >= 0 && b >= 0, `both tones present (440 at ${a} ms, 1000 at ${b} ms)`);
    assert.ok(Math.abs(b - a - 1000) <= 40, `bob starts 1 s after alice: ${b - a} ms`);
    const level = (from: number, to: number, f: number): number => toneLevelDb(pcm, a + from, a + to, f);
    assert.ok(level(200, 400, 440) > -1, 'only alice at 0.2-0.4 s');
    assert.ok(level(1200, 1400, 440) > -6, 'alice in the overlap');
    assert.ok(level(1200, 1400, 1000) > -6, 'bob in the overlap');
    assert.ok(level(2300, 2500, 1000) > -1, 'only bob at 2.3-2.5 s');
    assert.ok(level(2300, 2500, 440) < -20, 'alice silent after 2 s');
    assert.equal(toneLevelDb(pcm, a + 3300, a + 3400, 1000), -Infinity, 'silence after both stopped');

    // srs recordings get decrypts to the same bytes.
    const outFile = join(server.dataDir, 'out.wav');
    const got = await run(
      process.execPath,
      [SRS_BIN, 'recordings', 'get', rec.id, '--format', 'wav', '--out', outFile],
      {
        env: server.env,
      },
    );
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(await readFile(outFile), wav);

    // No plaintext audio left under data/ (outside the database and our own output file).
    const files = (await walk(server.dataDir)).filter(
      (f) => !f.startsWith(join(server.dataDir, 'pg')) && f !== outFile,
    );
    for (const f of files) {
      assert.doesNotMatch(f, /\.(wav|mp3|spool)$/, `plaintext left: ${f}`);
      if ((await stat(f)).size >= 4) {
        const head = (await readFile(f)).subarray(0, 4).toString('latin1');
        assert.ok(head !== 'RIFF' && head.slice(0, 3) !== 'ID3', `plaintext audio in ${f}`);
      }
    }
  });

  for (const [scenario, status] of [
    ['bad-no-sdp.xml', 400],
    ['bad-garbage-multipart.xml', 400],
    ['bad-no-decodable-codec.xml', 488],
  ] as const) {
    it(`answers ${scenario} with ${status} and stays up`, async () => {
      const r = await sipp(server, scenario);
      assert.equal(r.code, 0, `sipp did not get ${status}: ${r.stdout.slice(-1500)} ${r.stderr}`);
      const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
      assert.equal(health.status, 200);
    });
  }
});
