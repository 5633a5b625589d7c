/**
 * Two attempts of one recording's finalize job that overlap (a job expired, or its node's lease
 * lost, while its handler still ran: docs/security.md) against real Postgres, the real mixer and
 * the real finalizeRecording, interleaved step by step with afterStep. The attempt that loses must
 * not rename its ciphertext over the files the catalogue names, report the recording stored again
 * or wipe: the stored files keep the catalogue's sha256_cipher and decrypt (gpg) to the call's tone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { endedCallWithTone } from '../helpers/ended-call.js';
import { createLogger } from '../../src/log.js';
import { mixSpool } from '../../src/media/index.js';
import {
  artifactDir,
  finalizeRecording,
  type FinalizeContext,
  type FinalizeStep,
} from '../../src/pipeline/finalize.js';
import { ensureKeyPair } from '../../src/pipeline/keys.js';
import { openDatabase, type Database } from '../../src/store/db.js';
import { decodeUlawWav, toneLevelDb } from '../helpers/audio.js';
import { gpgDecrypt } from '../helpers/gpg.js';
import { seedDataDir } from '../helpers/pg-template.js';

const log = createLogger('silent');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A promise and its resolver: one point an attempt waits at, and the other releases. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((r) => (fire = r));
  return { promise, fire };
}

describe('pipeline fencing: overlapping finalize attempts of one recording', () => {
  let dataDir: string;
  let db: Database;
  let passphrase: string;
  let base: Omit<FinalizeContext, 'afterStep' | 'onStored'>;
  const startedAt = new Date('2026-03-04T10:00:00Z');
  const hz = 600;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-fencing-'));
    await seedDataDir(dataDir);
    db = await openDatabase({ dataDir, log });
    const k = await ensureKeyPair({ keysDir: join(dataDir, 'keys'), log, db });
    assert.ok(k.generatedPassphrase);
    passphrase = k.generatedPassphrase;
    base = {
      recordings: db.recordings,
      chain: db.chain,
      mixer: { mix: (o) => mixSpool(o) },
      dataDir,
      log,
      mp3: { bitrateKbps: 32, sampleRate: 8000 },
      key: { fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored },
    };
  });

  after(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** An ended call with a 2 s tone in its spool, as the recording service leaves it. */
  const newCall = async (): Promise<string> => {
    return endedCallWithTone(db, dataDir, { prefix: 'fence', startedAt, hz, ms: 2000 });
  };

  /** The attempt's context: `hold` runs after each of its steps (and may wait there). */
  const attempt = (hold: (s: FinalizeStep) => Promise<void> | void, stored: string[]): FinalizeContext => ({
    ...base,
    afterStep: (s) => hold(s),
    onStored: (id) => void stored.push(id),
  });

  /** What must hold whatever the interleaving: one commit, and the files the catalogue names. */
  const checkStoredOnce = async (id: string) => {
    const row = await db.recordings.get(id);
    assert.equal(row?.state, 'stored');
    assert.deepEqual(row.files.map((f) => f.kind).sort(), ['mp3', 'wav']);
    for (const f of row.files) {
      const onDisk = await readFile(join(dataDir, f.path));
      assert.equal(
        sha(onDisk),
        f.sha256Cipher,
        `${f.kind}: the file on disk is not the one the catalogue names (sha256_cipher)`,
      );
      assert.equal(onDisk.length, f.bytes);
    }
    const wav = row.files.find((f) => f.kind === 'wav')!;
    const plain = await gpgDecrypt(join(dataDir, 'keys', 'private.asc'), passphrase, join(dataDir, wav.path));
    assert.equal(sha(plain), wav.sha256Plain);
    const samples = decodeUlawWav(plain);
    const level = toneLevelDb(samples, 100, 1900, hz);
    assert.ok(level > -3, `the ${hz} Hz tone is in the stored WAV (${level.toFixed(1)} dB)`);
    const chained = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM recording_chain WHERE recording_id = $1',
      [id],
    );
    assert.equal(chained.rows[0]!.n, 1, 'chained once');
    const day = join(dataDir, artifactDir(startedAt));
    const mine = (await readdir(day)).filter((n) => n.startsWith(id));
    assert.deepEqual(mine.sort(), [`${id}.mp3.gpg`, `${id}.wav.gpg`], 'no temporary file left');
    await assert.rejects(stat(join(dataDir, 'spool', id)), { code: 'ENOENT' });
  };

  it('a late attempt that encrypts after the first one stored renames nothing over its files', async () => {
    const id = await newCall();
    const aWav = signal();
    const aMp3 = signal();
    const bMixed = signal();
    const bEncrypted = signal();
    const stored: string[] = [];
    // A: encrypts both files, waits until B has mixed (B begins before A commits), commits, and
    // waits after "stored" until B has encrypted its own WAV (the report's sequence).
    const a = finalizeRecording(
      attempt(async (s) => {
        if (s === 'encrypted-mp3') aMp3.fire();
        if (s === 'encrypted-wav') {
          aWav.fire();
          await bMixed.promise;
        }
        if (s === 'stored') await bEncrypted.promise;
      }, stored),
      id,
    );
    await Promise.all([aWav.promise, aMp3.promise]);
    const b = finalizeRecording(
      attempt((s) => {
        if (s === 'mixed') bMixed.fire();
        if (s === 'encrypted-wav') bEncrypted.fire();
      }, stored),
      id,
    );
    const [ra, rb] = await Promise.all([a, b]);
    await checkStoredOnce(id);
    assert.equal(ra, 'stored');
    assert.equal(rb, 'already-stored', 'the late attempt knows it lost');
    assert.deepEqual(stored, [id], 'reported stored once');
  });

  it('two attempts that reach the commit together store one set of files', async () => {
    const id = await newCall();
    const aMixed = signal();
    const bEncrypted = signal();
    const stored: string[] = [];
    const a = finalizeRecording(
      attempt(async (s) => {
        if (s === 'mixed') aMixed.fire();
        if (s === 'encrypted-wav') await bEncrypted.promise;
      }, stored),
      id,
    );
    await aMixed.promise;
    const b = finalizeRecording(
      attempt((s) => {
        if (s === 'encrypted-wav') bEncrypted.fire();
      }, stored),
      id,
    );
    const outcomes = (await Promise.all([a, b])).sort();
    await checkStoredOnce(id);
    assert.deepEqual(outcomes, ['already-stored', 'stored']);
    assert.deepEqual(stored, [id], 'reported stored once');
  });
});
