/**
 * The recording key passphrase across restarts, on the real server (`srs serve`) and the real CLI:
 * - embedded defaults (no SRS_KEY_PASSPHRASE): the first start generates a passphrase into
 *   `<data>/secrets/recording-key-passphrase`; a restart on the same data directory reads it again,
 *   so playback, key generation and a re-encryption killed half-way (kill -9 by the test-only
 *   hook) and resumed by the next start all work; a file made readable by others is set back to
 *   0600;
 * - a wrong SRS_KEY_PASSPHRASE: the server starts and records (public key only), logs an error
 *   naming SRS_KEY_PASSPHRASE, /healthz says `keyPassphrase: wrong`, key generation answers 503;
 * - `srs keys generate` with a passphrase that does not open the active key (or is not the
 *   server's) exits 2 and changes no key, unless --other-passphrase says so.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SRS_BIN, died, run, startTestServer, type TestServer } from '../helpers/server.js';
import { callServer, type CallOptions } from '../helpers/server-client.js';
import { storedToneCall } from '../helpers/tone-call.js';

interface KeyJson {
  fingerprint: string;
  active: boolean;
  retiredAt: string | null;
  files: number;
  reencrypt: { finishedAt: string | null; error: string | null } | null;
}

describe(
  'recording key passphrase: restart on embedded defaults, wrong passphrase, keys generate',
  { timeout: 600_000 },
  () => {
    let dataDir: string;
    const servers: TestServer[] = [];
    let s: TestServer;
    const start = async (more: Record<string, string> = {}) => {
      s = await startTestServer({ SRS_KEY_PASSPHRASE: '', ...more }, dataDir);
      servers.push(s);
      return s;
    };
    const ready = async (more: Record<string, string> = {}) => {
      await start(more);
      await s.waitFor(/SIPREC recording server ready/, 90_000);
      return s;
    };
    const api = (method: string, path: string, o: CallOptions = {}) =>
      callServer(`http://127.0.0.1:${s.httpPort}`, method, `/api/v1${path}`, { bearer: s.token, ...o });
    const audio = (id: string) => api('GET', `/recordings/${id}/audio?format=mp3`);
    const healthz = async () =>
      (await callServer(`http://127.0.0.1:${s.httpPort}`, 'GET', '/healthz')).json as {
        ok: boolean;
        details: { keyPassphrase?: string };
      };
    const call = async (): Promise<string> => (await storedToneCall(s, 1500)).id;
    const keys = async () => (await api('GET', '/keys')).json.items as unknown as KeyJson[];
    /** The CLI as an operator runs it on the server's data directory, without SRS_KEY_PASSPHRASE. */
    const cli = (args: string[], more: Record<string, string> = {}) => {
      const env: Record<string, string> = { ...s.env, ...more };
      if (!more.SRS_KEY_PASSPHRASE) delete env.SRS_KEY_PASSPHRASE;
      return run(process.execPath, [SRS_BIN, ...args], { env, timeoutMs: 120_000 });
    };
    let first: string;
    let passFile: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'srs-keypass-'));
      passFile = join(dataDir, 'secrets', 'recording-key-passphrase');
    });
    after(async () => {
      for (const x of servers) await x.stop('SIGKILL').catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    });

    it('reads the generated passphrase again after a restart: playback, key generation and a killed re-encryption resume', async () => {
      await ready();
      first = await call();
      assert.equal((await audio(first)).status, 200);
      assert.equal((await stat(passFile)).mode & 0o777, 0o600);
      const generated = (await readFile(passFile, 'utf8')).trim();
      await s.stop();

      // Someone made the file group- and world-readable: the next start sets it back.
      await chmod(passFile, 0o644);
      await ready();
      const played = await audio(first);
      assert.equal(played.status, 200, played.text);
      assert.equal((await healthz()).details.keyPassphrase, 'ok');
      assert.equal((await stat(passFile)).mode & 0o777, 0o600);
      assert.equal((await readFile(passFile, 'utf8')).trim(), generated, 'the file is kept as it was');

      // Key rotation from the console: a new key, then the old one retired with re-encryption on a
      // server killed after its first new file; the next start (again without a passphrase) resumes.
      const old = (await keys()).find((k) => k.active)!.fingerprint;
      const gen = await api('POST', '/keys', { body: { type: 'curve25519' } });
      assert.equal(gen.status, 201, gen.text);
      const fresh = gen.json.fingerprint as string;
      await s.stop();
      const a = await ready({ SRS_TEST_CRASH_AFTER_STEP: 'reencrypt-written' });
      const gone = died(a);
      await api('POST', `/keys/${old}/retire`, { body: { reencrypt: true } }).catch(() => undefined);
      assert.equal(await gone, 'SIGKILL', a.output().slice(-3000));
      await ready();
      for (const deadline = Date.now() + 60_000; ;) {
        const k = (await keys()).find((x) => x.fingerprint === old);
        if (k?.reencrypt?.finishedAt) {
          assert.equal(k.reencrypt.error, null);
          assert.equal(k.files, 0);
          break;
        }
        assert.ok(Date.now() < deadline, `re-encryption never resumed: ${JSON.stringify(k)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.equal((await keys()).find((x) => x.fingerprint === fresh)?.files, 2);
      assert.equal((await audio(first)).status, 200, 'played from the new key');
    });

    it('refuses keys generate with a passphrase that does not open the active key; the generated one is found by itself', async () => {
      const before = await keys();
      const other = join(dataDir, 'other-passphrase');
      await writeFile(other, 'not-the-server-passphrase\n', { mode: 0o600 });
      const bad = await cli(['keys', 'generate', '--type', 'curve25519', '--passphrase-file', other]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /does not open the active key [0-9A-F]{40}/);
      assert.match(bad.stderr, /--other-passphrase/);
      const notServers = await cli(['keys', 'generate', '--type', 'curve25519', '--passphrase-file', other], {
        SRS_KEY_PASSPHRASE: (await readFile(passFile, 'utf8')).trim(),
      });
      assert.equal(notServers.code, 2, notServers.stderr);
      assert.match(notServers.stderr, /not the server's \(SRS_KEY_PASSPHRASE\)/);
      assert.deepEqual(
        (await keys()).map((k) => [k.fingerprint, k.active]),
        before.map((k) => [k.fingerprint, k.active]),
        'no key added or activated',
      );
      // No --passphrase-file and no SRS_KEY_PASSPHRASE: the generated passphrase, as the server uses.
      const good = await cli(['keys', 'generate', '--type', 'curve25519']);
      assert.equal(good.code, 0, good.stderr);
      const made = good.stdout.trim();
      assert.equal((await keys()).find((k) => k.active)?.fingerprint, made);
      // On purpose: accepted, and not made active here.
      const forced = await cli([
        ...['keys', 'generate', '--type', 'curve25519', '--passphrase-file', other],
        ...['--other-passphrase', '--no-activate'],
      ]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal((await keys()).length, before.length + 2);
      assert.equal((await keys()).find((k) => k.active)?.fingerprint, made);
    });

    it('starts with a wrong SRS_KEY_PASSPHRASE, keeps recording, logs it and reports it in healthz', async () => {
      await s.stop();
      await ready({ SRS_KEY_PASSPHRASE: 'a-wrong-passphrase-typed' });
      const line = await s.waitFor(/does not open the active recording key/, 5000);
      assert.match(line, /"level":50/);
      assert.match(line, /SRS_KEY_PASSPHRASE/);
      const h = await healthz();
      assert.equal(h.ok, true, 'still takes calls');
      assert.equal(h.details.keyPassphrase, 'wrong');
      const id = await call();
      const played = await audio(id);
      assert.equal(played.status, 503);
      assert.match(played.text, /wrong passphrase/);
      const gen = await api('POST', '/keys', { body: { type: 'curve25519' } });
      assert.equal(gen.status, 503, 'no key under the wrong passphrase');
      await s.stop();
      // The generated passphrase (still in its file) plays it once the wrong setting is gone.
      await ready();
      assert.equal((await audio(id)).status, 200);
      assert.equal((await healthz()).details.keyPassphrase, 'ok');
    });
  },
);
