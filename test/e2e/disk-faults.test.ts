/**
 * Nothing lost, nothing invented when the disk fills (the real server):
 * - the spool directory is a 2 MiB tmpfs filled up mid-call: the spool write fails (ENOSPC), the
 *   failed batch is cut back (never a torn record), the WAV is no longer than the call, and the
 *   damage is on the recording (API events) and in /metrics. Skipped, saying why, where mounting
 *   a tmpfs is refused (not root);
 * - disk-full admission: below SRS_MIN_FREE_MB new calls get 503 and /healthz says why; below
 *   SRS_HARD_FREE_MB the live call is ended (BYE, stored, `disk-full` event). The free space is
 *   read from a test file (SRS_TEST_FREE_MB_FILE) instead of statfs.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { toneLevelDb } from '../helpers/audio.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents, wavOf } from '../helpers/recording.js';

async function metrics(server: TestServer): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  return r.text();
}

describe('disk faults: torn spool on a full filesystem, disk-full admission', { timeout: 240000 }, () => {
  const servers: TestServer[] = [];
  const mounts: string[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  });

  it('cuts a failed spool write back: the WAV is as long as the call, the damage is reported', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'srs-e2e-tmpfs-'));
    const spool = join(dataDir, 'spool');
    await mkdir(spool);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', spool], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()}): needs root`);
      return;
    }
    mounts.push(spool);
    const server = await startTestServer({ SRS_MIN_FREE_MB: '0', SRS_HARD_FREE_MB: '0' }, dataDir);
    servers.push(server);
    await server.waitFor(/SIPREC recording server ready/, 60000);

    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    // Leave about 3 s of audio (8 KB/s) of room, then fill the rest.
    const st = await statfs(spool);
    const free = Number(st.bavail) * Number(st.bsize);
    await writeFile(join(spool, '.filler'), Buffer.alloc(Math.max(0, free - 28 * 1024)));
    await sendLoopbackTone(inv.ports[0] as number, 8000, 0x61);
    await uac.request('BYE');
    uac.close();

    const rec = await waitForState(server, uac.callId, 'stored');
    const pcm = await wavOf(server, rec);
    const ms = pcm.length / 8;
    assert.ok(
      ms <= (rec.durationMs ?? 0) + 1000,
      `WAV ${ms} ms for a ${rec.durationMs} ms call: never longer`,
    );
    assert.ok(toneLevelDb(pcm, 0, Math.min(ms, 1500), 440) > -3, 'the audio written before the disk filled');
    const events = await recordingEvents(server, rec.id);
    assert.ok(
      events.some((e) => e.type === 'damaged' && /ms of audio lost/.test(e.text)),
      JSON.stringify(events),
    );
    const text = await metrics(server);
    assert.match(text, /srs_spool_write_errors_total [1-9]/);
    assert.match(text, /srs_spool_damaged_ms_total [1-9]/);
    await server.waitFor(/recording damaged: spool writes failed/, 10000);
  });

  it('refuses new calls below SRS_MIN_FREE_MB and ends live ones below SRS_HARD_FREE_MB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'srs-e2e-free-'));
    const freeFile = join(dir, 'free-mb');
    await writeFile(freeFile, '5000');
    const server = await startTestServer({
      SRS_TEST_FREE_MB_FILE: freeFile,
      SRS_MIN_FREE_MB: '1024',
      SRS_HARD_FREE_MB: '128',
    });
    servers.push(server);
    await server.waitFor(/SIPREC recording server ready/, 60000);
    const live = await SiprecUac.open(server.sipPort);
    const inv = await live.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const stream = sendLoopbackTone(inv.ports[0] as number, 12000, 0x62);

    await writeFile(freeFile, '500');
    await server.waitFor(/refusing new calls/, 10000);
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { details: { refusingCalls?: string } };
    assert.match(body.details.refusingCalls ?? '', /disk nearly full: 500 MiB free/);
    const refused = await SiprecUac.open(server.sipPort);
    const r = await refused.invite();
    refused.close();
    assert.equal(r.status, 503, r.text);
    assert.match(r.text, /Retry-After: \d+/);

    await writeFile(freeFile, '50');
    const bye = await live.waitFor(/^BYE /, 10000);
    assert.match(bye, /text="disk-full"/);
    await stream;
    live.close();
    const rec = await waitForState(server, live.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    assert.ok(events.some((e) => e.type === 'call-ended-by-server' && /disk-full/.test(e.text)));
  });
});
