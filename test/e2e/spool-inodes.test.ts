/**
 * Inode exhaustion on the spool filesystem (the real server, the spool on a small tmpfs with few
 * inodes; skipped, saying why, where mounting a tmpfs is refused):
 * - a leg whose spool file cannot be created at the start of the call (no inode left) gets its file
 *   once inodes are free again: only the audio of the fault is lost and reported damaged, the rest
 *   of the call is recorded (it used to be lost for the whole call);
 * - admission: below SRS_MIN_FREE_INODES free inodes new calls get 503 and /healthz says why, and
 *   calls are taken again once inodes are freed.
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { toneLevelDb } from '../helpers/audio.js';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { recordingEvents, wavOf } from '../helpers/recording.js';

/** A data directory whose spool is a 64 MiB tmpfs with `inodes` inodes, or null (cannot mount). */
async function inodeLimitedDataDir(inodes: number, mounts: string[]): Promise<string | { why: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'srs-e2e-inodes-'));
  const spool = join(dataDir, 'spool');
  await mkdir(spool);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=64m,nr_inodes=${inodes}`, 'tmpfs', spool], {
    encoding: 'utf8',
  });
  if (m.status !== 0) return { why: (m.stderr || m.error?.message || '').trim() };
  mounts.push(spool);
  return dataDir;
}

/** Creates empty files in `dir` until no inode is left (then frees `keep` of them); their paths. */
async function fillInodes(dir: string, keep: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; ; i++) {
    const path = join(dir, `.fill-${i}`);
    try {
      await writeFile(path, '');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      break;
    }
    files.push(path);
  }
  for (const path of files.splice(files.length - keep, keep)) await unlink(path);
  return files;
}

describe('inode exhaustion on the spool filesystem', { timeout: 240000 }, () => {
  const servers: TestServer[] = [];
  const mounts: string[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  });

  /** A server whose data directory is a tmpfs of 400 inodes (undefined, the test skipped, without root). */
  const inodeServer = async (t: TestContext, minFreeInodes: string) => {
    const dataDir = await inodeLimitedDataDir(400, mounts);
    if (typeof dataDir !== 'string') {
      t.skip(`cannot mount a tmpfs here (${dataDir.why}): needs root`);
      return undefined;
    }
    const server = await startTestServer(
      { SRS_MIN_FREE_MB: '0', SRS_HARD_FREE_MB: '0', SRS_MIN_FREE_INODES: minFreeInodes },
      dataDir,
    );
    servers.push(server);
    await server.waitFor(/SIPREC recording server ready/, 60000);
    return { server, dataDir };
  };

  it('creates a leg spool once inodes are back: only the fault is lost', async (t) => {
    const started = await inodeServer(t, '0');
    if (!started) return;
    const { server, dataDir } = started;
    // One inode left: the call's spool directory takes it, its leg's file finds none.
    const fillers = await fillInodes(join(dataDir, 'spool'), 1);
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    const tone = sendLoopbackTone(inv.ports[0] as number, 10000, 0x63);
    await new Promise((r) => setTimeout(r, 1000));
    for (const f of fillers) await unlink(f);
    await tone;
    await uac.request('BYE');
    uac.close();

    const rec = await waitForState(server, uac.callId, 'stored');
    const events = await recordingEvents(server, rec.id);
    const damaged = events.filter((e) => e.type === 'damaged');
    const lostMs = damaged.reduce((n, e) => n + Number(/(\d+) ms of audio lost/.exec(e.text)?.[1] ?? 0), 0);
    const pcm = await wavOf(server, rec);
    const ms = pcm.length / 8;
    const heardFrom = [2000, 4000, 6000, 8000].filter(
      (at) => at + 1000 <= ms && toneLevelDb(pcm, at, at + 1000, 440) > -3,
    );
    console.log(
      `call ${rec.durationMs} ms, WAV ${ms} ms, damaged ${lostMs} ms, tone heard at ${heardFrom.join(',')}`,
    );
    assert.ok(lostMs > 0, `the fault is reported damaged: ${JSON.stringify(events)}`);
    assert.ok(lostMs <= 2500, `only about the fault's second is lost: ${lostMs} ms`);
    assert.deepEqual(heardFrom, [2000, 4000, 6000, 8000], 'the tone after the fault is recorded');
  });

  it('refuses new calls below SRS_MIN_FREE_INODES and takes them again once inodes are freed', async (t) => {
    const started = await inodeServer(t, '100');
    if (!started) return;
    const { server, dataDir } = started;
    const fillers = await fillInodes(join(dataDir, 'spool'), 50);
    await server.waitFor(/refusing new calls/, 10000);
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { details: { refusingCalls?: string } };
    assert.match(body.details.refusingCalls ?? '', /no inodes left: \d+ free/);
    const refused = await SiprecUac.open(server.sipPort);
    const r = await refused.invite();
    refused.close();
    assert.equal(r.status, 503, r.text);
    assert.match(r.text, /Retry-After: \d+/);

    for (const f of fillers) await unlink(f);
    await server.waitFor(/taking calls again/, 10000);
    const taken = await SiprecUac.open(server.sipPort);
    const ok = await taken.invite();
    assert.equal(ok.status, 200, ok.text);
    await taken.request('BYE');
    taken.close();
  });
});
