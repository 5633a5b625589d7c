/**
 * Delivery wired into `srs serve`: a SIPREC call placed by SIPp is recorded, stored, and exported
 * as an unencrypted MP3 with its day index by the running server; bad delivery settings stop the
 * server at start with a message naming the setting. On embedded defaults (no SRS_KEY_PASSPHRASE)
 * delivery decrypts with the passphrase the first start generated, at that start and after a
 * restart (read back from data/secrets/), and refuses to start only when there is none.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCsv } from '../../src/delivery/csv.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sipp, waitForState } from '../helpers/sipp.js';
import { storedToneCall } from '../helpers/tone-call.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

describe('delivery in srs serve', { timeout: 180_000 }, () => {
  let dir: string;
  let server: TestServer | undefined;

  before(async () => {
    // The data directories are inside this private (0700) directory: the embedded Postgres must
    // work there as it is, root or not.
    dir = await mkdtemp(join(tmpdir(), 'srs-delivery-serve-'));
  });
  after(async () => {
    const code = await server?.stop();
    if (server) assert.equal(code, 0, `server did not shut down cleanly:\n${server.output().slice(-3000)}`);
    await rm(dir, { recursive: true, force: true });
  });

  const configFile = async (name: string, cfg: unknown) => {
    const p = join(dir, name);
    await writeFile(p, JSON.stringify(cfg));
    return p;
  };

  it('refuses to start with a bad template, naming the setting', async () => {
    const bad = await configFile('bad.json', {
      export: { enabled: true, template: '%{setup-time##%Q}', primary: { type: 'local', directory: dir } },
    });
    const s = await startTestServer({ SRS_CONFIG: bad }, join(dir, 'data-bad'));
    assert.notEqual(await new Promise((r) => s.proc.once('exit', r)), 0);
    assert.match(s.output(), /export\.template: unknown time directive %Q/);
  });

  it('refuses bad s3 destination settings at start, naming them', async () => {
    const noCreds = await configFile('s3-creds.json', {
      export: {
        enabled: true,
        primary: { type: 's3', bucket: 'mp3-export', credentialsFile: join(dir, 'no-such-credentials') },
      },
    });
    let s = await startTestServer({ SRS_CONFIG: noCreds }, join(dir, 'data-s3-creds'));
    assert.notEqual(await new Promise((r) => s.proc.once('exit', r)), 0);
    assert.match(s.output(), /export\.primary\.credentialsFile: cannot read .*no-such-credentials/);

    const badBucket = await configFile('s3-bucket.json', {
      offload: { enabled: true, audio: { type: 's3', bucket: 'Not_A_Bucket' } },
    });
    s = await startTestServer({ SRS_CONFIG: badBucket }, join(dir, 'data-s3-bucket'));
    assert.notEqual(await new Promise((r) => s.proc.once('exit', r)), 0);
    assert.match(s.output(), /offload\.audio\.bucket: a bucket name/);
  });

  it('exports the MP3 of a recorded call with its day index', async () => {
    const exportDir = join(dir, 'export');
    await mkdir(exportDir);
    const cfg = await configFile('export.json', {
      export: {
        enabled: true,
        intervalSeconds: 1,
        template: '%{setup-time##%Y/%m/%d}/%{call-id}',
        primary: { type: 'local', directory: exportDir },
      },
    });
    server = await startTestServer({ SRS_CONFIG: cfg }, join(dir, 'data'));
    await server.waitFor(/delivery started/, 60_000);
    await server.waitFor(/SIPREC recording server ready/, 60_000);
    const trace = join(server.dataDir, 'sipp.log');
    const r = await sipp(`127.0.0.1:${server.sipPort}`, 'siprec-basic.xml', [
      '-trace_msg',
      '-message_file',
      trace,
    ]);
    assert.equal(r.code, 0, `sipp failed: ${r.stdout.slice(-1000)} ${r.stderr}`);
    const callId = /Call-ID: (\S+)/.exec(await readFile(trace, 'utf8'))?.[1];
    assert.ok(callId);
    const rec = await waitForState(server, callId, 'stored');
    const day = rec.startedAt.slice(0, 10).replaceAll('-', '/');
    const want = [`${day}/${callId.replace(/[/\\:*?"<>|]/g, '_')}.mp3`, `${day}/index.csv`].sort();
    const deadline = Date.now() + 30_000;
    while ((await walk(exportDir)).join() !== want.join() && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 250));
    assert.deepEqual(await walk(exportDir), want, server.output().slice(-2000));
    const mp3 = await readFile(
      join(
        exportDir,
        want.find((f) => f.endsWith('.mp3'))!,
      ),
    );
    assert.equal(sha(mp3), rec.files.find((f) => f.kind === 'mp3')?.sha256Plain, 'the decrypted MP3');
    const index = parseCsv(await readFile(join(exportDir, day, 'index.csv'), 'utf8'));
    assert.equal(index.length, 2);
    assert.equal(index[1]?.[0], rec.id);
    assert.equal(index[1]?.[8], callId);
    // The decryption for the export is audited like any other way audio leaves the server.
    const audit = (await (
      await fetch(`http://127.0.0.1:${server.httpPort}/api/v1/audit?action=delivery&resourceId=${rec.id}`, {
        headers: { authorization: `Bearer ${server.token}` },
      })
    ).json()) as { items: { actor: string; details: { purpose: string } }[] };
    assert.deepEqual(
      audit.items.map((e) => [e.actor, e.details.purpose]),
      [['system', 'export']],
    );
  });

  it('exports decrypted MP3s on embedded defaults without SRS_KEY_PASSPHRASE, after a restart too', async () => {
    const exportDir = join(dir, 'export-defaults');
    await mkdir(exportDir);
    const cfg = await configFile('export-defaults.json', {
      export: {
        enabled: true,
        intervalSeconds: 1,
        template: '%{recording-id}',
        primary: { type: 'local', directory: exportDir },
      },
    });
    const data = join(dir, 'data-defaults');
    const env = { SRS_CONFIG: cfg, SRS_KEY_PASSPHRASE: '' };
    const exported = async (s: TestServer) => {
      await s.waitFor(/SIPREC recording server ready/, 90_000);
      const rec = await storedToneCall(s, 1500);
      const file = join(exportDir, `${rec.id}.mp3`);
      const deadline = Date.now() + 30_000;
      let mp3: Buffer | undefined;
      while (!mp3 && Date.now() < deadline) {
        mp3 = await readFile(file).catch(() => undefined);
        if (!mp3) await new Promise((res) => setTimeout(res, 250));
      }
      assert.ok(mp3, `no export of ${rec.id}:\n${s.output().slice(-3000)}`);
      assert.equal(sha(mp3), rec.files.find((f) => f.kind === 'mp3')?.sha256Plain, 'the decrypted MP3');
    };
    // The first start generates the passphrase; the restart reads it back from data/secrets/.
    for (let i = 0; i < 2; i++) {
      const s = await startTestServer(env, data);
      try {
        await exported(s);
      } finally {
        assert.equal(await s.stop(), 0, s.output().slice(-3000));
      }
    }
    // Without the generated file (and no SRS_KEY_PASSPHRASE) delivery cannot decrypt: no start.
    await rm(join(data, 'secrets', 'recording-key-passphrase'));
    const s = await startTestServer(env, data);
    assert.notEqual(await new Promise((r) => s.proc.once('exit', r)), 0);
    assert.match(s.output(), /keys\.passphrase \(SRS_KEY_PASSPHRASE\)/);
    assert.match(s.output(), /secrets\/recording-key-passphrase/);
  });
});
