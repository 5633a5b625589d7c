/**
 * The SIPp suites of sip-scenarios/ against the real server (`srs serve`: embedded edge,
 * drachtio-srf app, native engine, embedded Postgres): each scenario's responses are checked by
 * SIPp itself (response codes, and headers/SDP via ereg check_it), and the recordings by the
 * catalogue (`srs recordings list --json`): streams, participants, pause/resume and metadata events.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { decodeUlawWav, rmsDbfs, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { listRecordings, sipp as sippAt, waitForState, type ListedRecording } from '../helpers/sipp.js';

interface Row extends ListedRecording {
  streams: { label: string; streamId: string | null; legId: string; codec: string; port: number }[];
  events: { at: string; type: string; detail: Record<string, unknown> }[];
}

describe('SIPp suites against srs serve', { timeout: 240000 }, () => {
  let server: TestServer;
  const sipp = (scenario: string, extra: string[] = []) =>
    sippAt(`127.0.0.1:${server.sipPort}`, scenario, ['-cid_str', `${scenario}-%u-%p@srs-suite`, ...extra]);
  const callIdOf = (scenario: string) => (r: Row) => r.callId.startsWith(`${scenario}-`);
  const rows = async () => (await listRecordings(server)) as Row[];

  before(async () => {
    server = await startTestServer({ SRS_MAX_CPS: '1000' });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  const expectOk = (r: { code: number | null; stdout: string; stderr: string }, what: string) =>
    assert.equal(r.code, 0, `${what}: sipp failed\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);

  it('bad inputs of the notes table get 420/415/488/400 with Unsupported, Accept or Warning', async () => {
    for (const s of [
      'bad-unsupported-require.xml',
      'bad-unsupported-body.xml',
      'bad-no-decodable-codec.xml',
      'bad-no-sdp.xml',
      'bad-garbage-multipart.xml',
    ]) {
      expectOk(await sipp(s), s);
    }
    const out = server.output();
    assert.match(out, /"status":420/);
    assert.match(out, /"status":415/);
    assert.match(out, /"status":488/);
    assert.match(out, /no decodable codec offered/);
    assert.ok(!(await rows()).some((r) => r.callId.startsWith('bad-')), 'a rejected call left a recording');
  });

  it('pause/resume: a=inactive answered inactive, events stored with times', async () => {
    expectOk(await sipp('siprec-pause-resume.xml'), 'pause-resume');
    const rec = (await rows()).find(callIdOf('siprec-pause-resume.xml'));
    assert.ok(rec, 'no recording for the pause/resume call');
    const types = rec.events.map((e) => e.type);
    assert.deepEqual(
      types.filter((t) => t.startsWith('stream-')),
      ['stream-paused', 'stream-paused', 'stream-resumed', 'stream-resumed'],
    );
    const paused = Date.parse(rec.events.find((e) => e.type === 'stream-paused')!.at);
    const resumed = Date.parse(rec.events.find((e) => e.type === 'stream-resumed')!.at);
    assert.ok(resumed - paused >= 900, `resume ${resumed - paused} ms after pause`);
    assert.deepEqual(
      rec.streams.map((s) => s.streamId),
      ['c3RyZWFtLWFsaWNlLTAwMQ==', 'c3RyZWFtLWJvYi0wMDAwMQ=='],
    );
    const stored = await waitForState(server, rec.callId, 'stored');

    // The pause reached the engine: SIPp's pcap keeps sending both tones through the pause, and
    // the mix holds digital silence there (alice's 440 Hz before it, bob's 1000 Hz after it).
    const wavFile = stored.files.find((f) => f.kind === 'wav');
    assert.ok(wavFile, 'wav file catalogued');
    const wav = await gpgDecrypt(
      join(server.dataDir, 'keys', 'private.asc'),
      server.passphrase,
      join(server.dataDir, wavFile.path),
    );
    const pcm = decodeUlawWav(wav);
    // The WAV starts at the session's t0 (the INVITE), as startedAt does.
    const p = paused - Date.parse(stored.startedAt);
    const r = resumed - Date.parse(stored.startedAt);
    assert.ok(p > 700 && r - p < 2000, `pause at ${p} ms, resume at ${r} ms`);
    assert.ok(toneLevelDb(pcm, p - 600, p - 150, 440) > -3, 'alice recorded before the pause');
    assert.ok(
      rmsDbfs(pcm, p + 150, r - 150) < -70,
      `silence while paused: ${rmsDbfs(pcm, p + 150, r - 150)} dBFS`,
    );
    assert.ok(toneLevelDb(pcm, r + 150, r + 550, 1000) > -3, 'bob recorded after the resume');
  });

  it('re-INVITE adding a third stream: answered on a new port, catalogue has three streams and carol', async () => {
    expectOk(await sipp('siprec-reinvite-add-stream.xml'), 'reinvite-add-stream');
    const rec = (await rows()).find(callIdOf('siprec-reinvite-add-stream.xml'));
    assert.ok(rec);
    assert.deepEqual(
      rec.streams.map((s) => [s.label, s.streamId]),
      [
        ['1', 'c3RyZWFtLWFsaWNlLTAwMQ=='],
        ['2', 'c3RyZWFtLWJvYi0wMDAwMQ=='],
        ['3', 'c3RyZWFtLWNhcm9sLTAwMQ=='],
      ],
    );
    assert.equal(new Set(rec.streams.map((s) => s.port)).size, 3);
    assert.ok(rec.events.some((e) => e.type === 'stream-added' && e.detail.label === '3'));
    assert.ok(
      rec.events.some((e) => e.type === 'participant-joined' && e.detail.aor === 'sip:carol@example.com'),
    );
    const carol = rec.participants.find((p) => p.aor === 'sip:carol@example.com');
    assert.deepEqual(carol?.sends, ['3']);
    await waitForState(server, rec.callId, 'stored');
  });

  it('UPDATE carrying metadata alone: participants stored, raw XML kept', async () => {
    expectOk(await sipp('siprec-update-metadata.xml'), 'update-metadata');
    const rec = (await rows()).find(callIdOf('siprec-update-metadata.xml'));
    assert.ok(rec);
    assert.deepEqual(
      rec.participants.map((p) => [p.aor, p.sends]),
      [
        ['sip:alice@example.com', ['1']],
        ['sip:bob@example.com', ['2']],
      ],
    );
    const md = rec.events.find((e) => e.type === 'metadata');
    assert.match(String(md?.detail.xml), /urn:ietf:params:xml:ns:recording:1/);
    await waitForState(server, rec.callId, 'stored');
  });

  it('large INVITE over TCP (-t t1): answered, 62 participants stored', async () => {
    expectOk(await sipp('siprec-large-tcp.xml', ['-t', 't1']), 'large-tcp');
    const rec = (await rows()).find(callIdOf('siprec-large-tcp.xml'));
    assert.ok(rec);
    assert.equal(rec.participants.length, 62);
    await waitForState(server, rec.callId, 'stored');
  });

  it('SRTP (SDES) offer: RTP/SAVP answered with our keys, re-key by re-INVITE; keys stored nowhere', async () => {
    expectOk(await sipp('siprec-srtp.xml'), 'srtp');
    const rec = (await rows()).find(callIdOf('siprec-srtp.xml'));
    assert.ok(rec, 'no recording for the SRTP call');
    assert.deepEqual(
      rec.streams.map((s) => [s.label, s.codec]),
      [
        ['1', 'PCMU'],
        ['2', 'PCMA'],
      ],
    );
    const rekeyed = rec.events.filter((e) => e.type === 'stream-rekeyed');
    assert.deepEqual(
      rekeyed.map((e) => [e.detail.label, e.detail.suite]),
      [['1', 'AES_CM_128_HMAC_SHA1_80']],
    );
    await waitForState(server, rec.callId, 'stored');
    // The scenario's keys (base64 and raw) are nowhere: not in the log, the catalogue listing, or
    // any file under the data directory (Postgres' heap and WAL included).
    const keys = [
      'jvH9tvUwJ6KIZNfOkvib3W0KGoYEgBrd1BchPIBf',
      'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR',
      'WVNfX19zZW1jdGwoKTsgfSBtYWluKCkge3ByaW50',
    ];
    const listing = JSON.stringify(await rows());
    for (const k of keys) {
      assert.ok(!server.output().includes(k), 'an SRTP key is in the server log');
      assert.ok(!listing.includes(k), 'an SRTP key is in the catalogue');
    }
    let scanned = 0;
    let scannedPg = 0;
    for (const f of await readdir(server.dataDir, { recursive: true, withFileTypes: true })) {
      if (!f.isFile()) continue;
      // A file Postgres removes during the scan is skipped; the counts below show the scan ran.
      const data = await readFile(join(f.parentPath, f.name)).catch(() => null);
      if (data === null) continue;
      scanned++;
      if (f.parentPath.startsWith(join(server.dataDir, 'pg'))) scannedPg++;
      for (const k of keys) {
        assert.equal(data.indexOf(k), -1, `SRTP key (base64) in ${f.name}`);
        assert.equal(data.indexOf(Buffer.from(k, 'base64')), -1, `SRTP key (raw) in ${f.name}`);
      }
    }
    assert.ok(scanned > 50 && scannedPg > 20, `scanned ${scanned} files, ${scannedPg} of Postgres`);
  });

  it('Opus and G.729 offer: every decodable format answered in order, codecs in the catalogue', async () => {
    expectOk(await sipp('siprec-g729-opus.xml'), 'g729-opus');
    const rec = (await rows()).find(callIdOf('siprec-g729-opus.xml'));
    assert.ok(rec, 'no recording for the Opus/G.729 call');
    assert.deepEqual(
      rec.streams.map((s) => [s.label, s.codec]),
      [
        ['1', 'opus,G729'],
        ['2', 'G729,PCMA'],
      ],
    );
    await waitForState(server, rec.callId, 'stored');
  });

  it('CANCEL before answer: 200 + 487 (or answered then BYE), no session left open', async () => {
    expectOk(await sipp('siprec-cancel.xml'), 'cancel');
    // The cancelled session (if the app had started one) ends asynchronously: poll, bounded.
    let health: { details?: { activeCalls?: number } } = {};
    for (const deadline = Date.now() + 10000; Date.now() < deadline;) {
      const res = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
      health = (await res.json()) as typeof health;
      if (health.details?.activeCalls === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(health.details?.activeCalls, 0, JSON.stringify(health));
  });
});
