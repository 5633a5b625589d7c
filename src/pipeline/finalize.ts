import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MediaEngine } from '../media/types.js';
import type { ChainRepository } from '../store/chain.js';
import type { RecordingsRepository } from '../store/recordings.js';
import type { RecordingFile, RecordingRow } from '../store/types.js';
import {
  encryptFile,
  exists,
  fsyncPath,
  removeTempsFor,
  renameDurable,
  wavToMp3,
  wipeDir,
  wipeFile,
  type Mp3Options,
} from './artifacts.js';

/**
 * The finalize job of one recording: mix -> MP3 -> encrypt both -> catalogue -> stored -> wipe.
 * Every step checks what is already done, so running it again after a crash at any point
 * finishes the work without doing any part twice (one file row per kind, one stored state).
 */

export type FinalizeStep = 'mixed' | 'mp3' | 'encrypted-mp3' | 'encrypted-wav' | 'stored' | 'wiped';

export interface FinalizeContext {
  recordings: RecordingsRepository;
  mixer: Pick<MediaEngine, 'mix'>;
  dataDir: string;
  log: Logger;
  mp3: Mp3Options;
  /** The key to encrypt to when `activeKey` is absent or finds none. */
  key: { fingerprint: string; publicKeyArmored: string };
  /** Reads the active key for each job (so `srs keys activate` takes effect without a restart). */
  activeKey?: () => Promise<{ fingerprint: string; publicKeyArmored: string } | undefined>;
  /** Marks stored and appends to the day's hash chain in one transaction (else plain markStored). */
  chain?: Pick<ChainRepository, 'markStoredChained'>;
  /** Called after each step; tests throw from it to simulate a crash at that point. */
  afterStep?: (step: FinalizeStep, recordingId: string) => void | Promise<void>;
}

export type FinalizeOutcome = 'stored' | 'already-stored';

/** `recordings/YYYY/MM/DD` (UTC date of the start), relative to the data directory. */
export function artifactDir(startedAt: Date): string {
  const y = String(startedAt.getUTCFullYear());
  const m = String(startedAt.getUTCMonth() + 1).padStart(2, '0');
  const d = String(startedAt.getUTCDate()).padStart(2, '0');
  return join('recordings', y, m, d);
}

export function spoolDirOf(dataDir: string, recordingId: string): string {
  return join(dataDir, 'spool', recordingId);
}

async function alreadyStored(dataDir: string, rec: RecordingRow, kind: RecordingFile['kind'], rel: string) {
  const f = rec.files.find((x) => x.kind === kind);
  if (!f || f.path !== rel) return false;
  const st = await stat(join(dataDir, rel)).catch(() => undefined);
  return st !== undefined && st.size === f.bytes;
}

const keyCache = new Map<string, Promise<openpgp.PublicKey>>();
function publicKeyOf(armored: string): Promise<openpgp.PublicKey> {
  let k = keyCache.get(armored);
  if (!k) {
    k = openpgp.readKey({ armoredKey: armored });
    keyCache.set(armored, k);
  }
  return k;
}

export async function finalizeRecording(ctx: FinalizeContext, recordingId: string): Promise<FinalizeOutcome> {
  const { recordings, dataDir } = ctx;
  const log = ctx.log.child({ recordingId });
  const step = async (s: FinalizeStep) => ctx.afterStep?.(s, recordingId);
  const rec = await recordings.get(recordingId);
  if (!rec) throw new NotFoundError(`recording ${recordingId} is not in the catalogue`);
  const spool = spoolDirOf(dataDir, recordingId);

  if (rec.state === 'stored') {
    // A crash between markStored and the end of the wipe: finish the wipe only.
    await wipeDir(spool);
    return 'already-stored';
  }
  const retrying = rec.state !== 'recording';
  await recordings.markProcessing(recordingId);

  const relDir = artifactDir(rec.startedAt);
  await mkdir(join(dataDir, relDir), { recursive: true, mode: 0o750 });
  const rel = { wav: join(relDir, `${recordingId}.wav.gpg`), mp3: join(relDir, `${recordingId}.mp3.gpg`) };
  const wavDone = await alreadyStored(dataDir, rec, 'wav', rel.wav);
  const mp3Done = await alreadyStored(dataDir, rec, 'mp3', rel.mp3);

  if (!wavDone || !mp3Done) {
    const mixWav = join(spool, 'mix.wav');
    if (!(await exists(mixWav))) {
      // The mixer writes under a temporary name; mix.wav exists only when complete.
      const part = join(spool, 'mix.wav.part');
      await wipeFile(part);
      const started = Date.now();
      const r = await ctx.mixer.mix({ spoolDir: spool, wavPath: part });
      await fsyncPath(part);
      await renameDurable(part, mixWav);
      log.info({ legs: r.legs, durationMs: r.durationMs, ms: Date.now() - started }, 'recording mixed');
    }
    await step('mixed');
    const keyInfo = (await ctx.activeKey?.()) ?? ctx.key;
    const key = await publicKeyOf(keyInfo.publicKeyArmored);
    const file = async (kind: RecordingFile['kind'], plain: string) => {
      const dest = join(dataDir, rel[kind]);
      // Leftovers of an interrupted attempt can only exist if one ran (the directory listing
      // grows with the day's recordings, so the first attempt skips it).
      if (retrying) await removeTempsFor(dest);
      const r = await encryptFile(plain, dest, key);
      await recordings.addFile(recordingId, {
        kind,
        path: rel[kind],
        ...r,
        keyFingerprint: keyInfo.fingerprint,
      });
    };
    // The WAV is encrypted here while ffmpeg (another process) encodes the MP3.
    const mp3Branch = async () => {
      if (mp3Done) return;
      const mixMp3 = join(spool, 'mix.mp3');
      if (!(await exists(mixMp3))) {
        await wipeFile(`${mixMp3}.part`);
        await wavToMp3(mixWav, mixMp3, ctx.mp3);
      }
      await step('mp3');
      await file('mp3', mixMp3);
      await step('encrypted-mp3');
    };
    const wavBranch = async () => {
      if (wavDone) return;
      await file('wav', mixWav);
      await step('encrypted-wav');
    };
    // Both run to their end (no half-finished branch keeps going after this job fails), then the
    // first failure is the job's.
    const results = await Promise.allSettled([mp3Branch(), wavBranch()]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }

  if (ctx.chain) await ctx.chain.markStoredChained(recordingId);
  else await recordings.markStored(recordingId);
  await step('stored');
  await wipeDir(spool);
  await step('wiped');
  log.info('recording stored');
  return 'stored';
}
