/**
 * Directory fsyncs (audit-durability finding 8). A power cut cannot be made here, so this test
 * watches the system calls instead: a child process runs, under `strace -f -y`, the real
 * finalizeRecording (real Postgres, the real mixer) of the first recording of a new day, the local
 * export target writing a file and the day index into folders it makes, and the local artifact
 * store putting an object into new folders. It checks that each new folder's entry in its parent
 * is fsynced (the parent fsynced after the mkdir) before the catalogue can point at the file (the
 * rename to the final name, inside the commit's transaction) or before the write returns (the
 * export item is marked done after that), and that an export file's new name is fsynced (its
 * directory after the rename).
 *
 * What this proves: the calls are made, on the right directories, in the right order. What it
 * does not: that a given filesystem then keeps the entries across a power cut (that is the
 * kernel's promise for fsync, untested here).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { endedCallWithTone } from '../helpers/ended-call.js';
import { createLogger } from '../../src/log.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';

const log = createLogger('silent');

/** One traced system call: its name, its path (or the fd's path, -y) and its second path (rename). */
interface Call {
  name: string;
  path: string;
  to?: string;
  ok: boolean;
}

/** The traced calls in the order they were entered (a call split by another thread's counts at its start). */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+\s+(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, name, rest] = m as unknown as [string, string, string];
    const ok = !/= -1 /.test(rest);
    const fd = /^\d+<([^>]*)>/.exec(rest);
    const strs = [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]!);
    if (name === 'fsync' || name === 'fdatasync') {
      if (fd) calls.push({ name, path: fd[1]!, ok });
    } else if (name === 'mkdir' || name === 'unlink' || name === 'rmdir') {
      if (strs[0] !== undefined) calls.push({ name, path: strs[0], ok });
    } else if (name.startsWith('rename')) {
      if (strs.length >= 2) calls.push({ name: 'rename', path: strs[0]!, to: strs[1]!, ok });
    } else if (name === 'mkdirat' || name === 'unlinkat') {
      if (strs[0] !== undefined) calls.push({ name: name.slice(0, -2), path: strs[0], ok });
    }
  }
  return calls;
}

describe('directory fsyncs: new folders and new names survive a power cut', () => {
  let dataDir: string;
  let exportRoot: string;
  let storeRoot: string;
  let db: Database;
  let calls: Call[];
  let id: string;
  const startedAt = new Date('2026-07-08T10:00:00Z');

  before(async () => {
    dataDir = await realpath(await mkdtemp(join(tmpdir(), 'srs-fsync-')));
    exportRoot = await realpath(await mkdtemp(join(tmpdir(), 'srs-fsync-export-')));
    storeRoot = await realpath(await mkdtemp(join(tmpdir(), 'srs-fsync-store-')));
    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    id = await endedCallWithTone(db, dataDir, { prefix: 'fsync', startedAt, hz: 600, ms: 1000 });

    const src = (p: string) => JSON.stringify(resolve('src', p));
    // Each part ends with a marker (a mkdir the trace shows): what came before it was done by then.
    const script = `
      import { mkdir } from 'node:fs/promises';
      import { createHash } from 'node:crypto';
      import { createLogger } from ${src('log.ts')};
      import { mixSpool } from ${src('media/index.ts')};
      import { finalizeRecording } from ${src('pipeline/finalize.ts')};
      import { openDatabase } from ${src('store/db.ts')};
      import { LocalTarget } from ${src('delivery/export-targets.ts')};
      import { LocalArtifactStore } from ${src('storage/local.ts')};
      const e = process.env;
      const log = createLogger('silent');
      const marker = (n) => mkdir(e.MARKS + '/' + n);
      const db = await openDatabase({ dataDir: e.DATA, databaseUrl: e.DB, log, poolSize: 2 });
      try {
        const out = await finalizeRecording({
          recordings: db.recordings, chain: db.chain, mixer: { mix: (o) => mixSpool(o) },
          dataDir: e.DATA, log, mp3: { bitrateKbps: 32, sampleRate: 8000 },
          key: { fingerprint: e.FPR, publicKeyArmored: e.PUB },
        }, e.ID);
        if (out !== 'stored') throw new Error('finalize: ' + out);
      } finally {
        await db.close();
      }
      await marker('finalized');
      const t = await LocalTarget.open(e.EXPORT);
      await t.place('2026/07/08/call.mp3', Buffer.from('mp3 bytes'), 'x', { mine: () => false, claim: async () => {} });
      await marker('placed');
      await t.replace('2026/07/09/index.csv', Buffer.from('a,b\\n'));
      await marker('replaced');
      const body = Buffer.from('ciphertext');
      const store = new LocalArtifactStore(e.STORE);
      await store.put('recordings/2026/07/08/obj.gpg', body, { sha256: createHash('sha256').update(body).digest('hex') });
      await marker('put');
    `;
    const marks = join(dataDir, 'marks');
    await mkdir(marks);
    const trace = join(dataDir, 'strace.txt');
    await new Promise<void>((res, rej) => {
      execFile(
        'strace',
        [
          '-f',
          '-y',
          '-qq',
          '-s',
          '4096',
          '-e',
          'trace=fsync,fdatasync,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat',
          '-o',
          trace,
          process.execPath,
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          script,
        ],
        {
          env: {
            ...process.env,
            DATA: dataDir,
            DB: db.connectionString,
            ID: id,
            FPR: k.fingerprint,
            PUB: k.publicKeyArmored,
            EXPORT: exportRoot,
            STORE: storeRoot,
            MARKS: marks,
          },
          maxBuffer: 16 << 20,
        },
        (err, _stdout, stderr) => (err ? rej(new Error(`${err.message}\n${String(stderr)}`)) : res()),
      );
    });
    calls = parseTrace(await readFile(trace, 'utf8'));
  });

  after(async () => {
    await db?.close();
    for (const d of [dataDir, exportRoot, storeRoot]) if (d) await rm(d, { recursive: true, force: true });
  });

  /** Index of the first call matching, or -1. */
  const first = (f: (c: Call) => boolean, from = 0) => {
    const i = calls.slice(from).findIndex(f);
    return i < 0 ? -1 : i + from;
  };
  const made = (dir: string) => first((c) => c.name === 'mkdir' && c.path === dir && c.ok);
  const fsynced = (dir: string, after: number) => first((c) => c.name === 'fsync' && c.path === dir, after);
  const mark = (n: string) => first((c) => c.name === 'mkdir' && c.path.endsWith(`/marks/${n}`));

  /** Each folder from `leaf` up to `root` was made, then its parent fsynced before call `by`. */
  const checkNewFolders = (root: string, leaf: string, by: number) => {
    for (let d = leaf; d !== root; d = resolve(d, '..')) {
      const at = made(d);
      assert.ok(at >= 0, `${d} made by the run`);
      const parent = resolve(d, '..');
      const synced = fsynced(parent, at);
      assert.ok(
        synced >= 0 && synced < by,
        `${parent} fsynced after ${d} was made, before the point of no return (fsync at ${synced}, by ${by})`,
      );
    }
  };

  it('finalize fsyncs the parents of a new day folder before the commit names the files', () => {
    const day = join(dataDir, 'recordings', '2026', '07', '08');
    // The first final name given (under the row lock, before srs_store_recording commits).
    const commit = first((c) => c.name === 'rename' && c.to !== undefined && c.to.startsWith(join(day, id)));
    assert.ok(commit >= 0, 'the files were renamed to their final names');
    assert.ok(commit < mark('finalized'));
    checkNewFolders(dataDir, day, commit);
    // The day folder itself after the renames (as before): the new names.
    assert.ok(fsynced(day, commit) >= 0, 'the day folder fsynced after the renames');
  });

  it('the local export target fsyncs its file, the new name and the folders it made', () => {
    const dir = join(exportRoot, '2026', '07', '08');
    const dest = join(dir, 'call.mp3');
    const renamed = first((c) => c.name === 'rename' && c.to === dest);
    assert.ok(renamed >= 0, 'written under a temporary name, then renamed');
    const tmp = calls[renamed]!.path;
    const fileSync = first((c) => c.name === 'fsync' && c.path === tmp);
    assert.ok(fileSync >= 0 && fileSync < renamed, 'the file fsynced before its rename');
    const placed = mark('placed');
    const dirSync = fsynced(dir, renamed);
    assert.ok(dirSync >= 0 && dirSync < placed, 'the folder fsynced after the rename, before place returned');
    checkNewFolders(exportRoot, dir, placed);
    // The day index (replace) likewise, into a folder of its own.
    const indexDir = join(exportRoot, '2026', '07', '09');
    const indexRenamed = first((c) => c.name === 'rename' && c.to === join(indexDir, 'index.csv'));
    assert.ok(indexRenamed >= 0);
    const replaced = mark('replaced');
    const indexSync = fsynced(indexDir, indexRenamed);
    assert.ok(indexSync >= 0 && indexSync < replaced, 'the index folder fsynced after the rename');
    checkNewFolders(join(exportRoot, '2026', '07'), indexDir, replaced);
  });

  it('the local artifact store fsyncs the parents of the folders it made for an object', () => {
    const dir = join(storeRoot, 'recordings', '2026', '07', '08');
    checkNewFolders(storeRoot, dir, mark('put'));
  });
});
