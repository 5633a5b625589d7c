import { randomBytes } from 'node:crypto';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';
import { mkdirDurable } from '../files.js';
import type { Logger } from '../log.js';
import { readPausedSpans } from '../media/index.js';
import type { MediaEngine } from '../media/types.js';
import type { ChainRepository } from '../store/chain.js';
import type { RecordingsRepository } from '../store/recordings.js';
import type { ArtifactStore } from '../storage/index.js';
import type { RecordingFile, RecordingRow } from '../store/types.js';
import {
  encodeMp3,
  encodeMp3ToFile,
  fsyncPath,
  removeTempsFor,
  wipeDir,
  wipeFile,
  wipeFilesStartingWith,
  type Mp3Options,
} from './artifacts.js';
import { encryptToTemp, publicKeyOf, type Plaintext } from './pgp.js';
import { putArtifact, storedArtifact, type ObjectRetention } from './store-step.js';
import { wallTimeCap } from './wall-time.js';

/**
 * The finalize job of one recording: mix -> MP3 -> encrypt both -> catalogue + stored -> wipe.
 *
 * The mix and the MP3 live in memory only: the only plaintext on disk is the call's spool, wiped
 * at the end. A recording too long for memory is mixed into a file in its spool, encoded from it a
 * block at a time into an MP3 file beside it, and both are encrypted from there. Each encrypted file
 * is written under its final name atomically, and the files' rows, the stored state and the day's
 * chain entry are committed in one transaction. A crash anywhere before that commit leaves the
 * recording unstored, and the retry makes everything again under the same names (no second
 * artifact, no second row); a crash after it only finishes the wipe.
 * With extra outputs configured, the stereo and per-leg WAVs are mixed and encrypted the same way
 * (kinds `stereo`, `leg<N>`) and committed with the others.
 *
 * With an object store (`artifacts` of backend `s3`), each encrypted artifact is put in the store
 * instead (src/pipeline/store-step.ts) and the commit waits for the store's confirmation of every
 * one; a retry reuses what an earlier attempt uploaded. A store that cannot be reached fails the
 * job with a retryable StorageUnavailableError before anything is committed or wiped: the spool
 * stays, and the recording is stored when the store answers again.
 */

export type FinalizeStep =
  | 'mixed'
  | 'mp3'
  | 'encrypted-mp3'
  | 'encrypted-wav'
  | 'encrypted-extras'
  /** Object store only: every artifact is in the store, the catalogue not committed yet. */
  | 'uploaded'
  | 'stored'
  | 'wiped';

/** Audio files made per recording (config media.outputs / SRS_OUTPUTS); the mono mix always. */
export type AudioOutput = 'mono' | 'stereo' | 'legs';
/** A paused recording: silence for the paused time, or the paused time left out of the files. */
export type PauseMode = 'silence' | 'cut';

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
  /** Adds the files, marks stored and appends to the day's hash chain in one transaction. */
  chain: Pick<ChainRepository, 'markStoredChained'>;
  /** Called after each step; tests throw from it to simulate a crash at that point. */
  afterStep?: (step: FinalizeStep, recordingId: string) => void | Promise<void>;
  /** Default ['mono']: only the mono WAV (and the MP3). */
  outputs?: readonly AudioOutput[];
  /** Default 'silence'. */
  pauseMode?: PauseMode;
  /**
   * Runs the MP3 encode (the CPU-heavy step) when one of the node's encode slots is free; the
   * pipeline bounds these to its concurrency while its other jobs mix, encrypt and commit.
   */
  encodeSlot?: <T>(
    encode: (slot: { background: boolean }) => Promise<T>,
    what: { audioBytes: number },
  ) => Promise<T>;
  /** Told when a recording is stored (for the capacity figures: its length and its BYE's time). */
  onStored?: (recordingId: string, r: { durationMs: number; endedAt: Date | null }) => void;
  /** A mix larger than this (estimated) goes to a file in the spool, its MP3 too (default 64 MiB). */
  inMemoryMaxBytes?: number;
  /**
   * Where the encrypted artifacts go; absent or `local`: files under `dataDir`, written in place.
   * Any other backend: `put` through the store (src/pipeline/store-step.ts).
   */
  artifacts?: ArtifactStore;
  /** The Object Lock retention of a recording's objects (object store with Object Lock only). */
  objectRetention?: (rec: RecordingRow) => Promise<ObjectRetention | undefined>;
}

type Kind = RecordingFile['kind'];
/** An extra WAV: its kind (catalogue), its plaintext name in the spool, and its channels. */
interface ExtraOutput {
  kind: Kind;
  channels: string[][];
}

/**
 * The stereo file's channels: left, the streams sent by the first participant of the metadata
 * (else the streams labelled like the first stream, so a stream re-offered after a transfer stays
 * on its side); right, every other stream. Only legs with a spool count.
 */
export function stereoChannels(rec: Pick<RecordingRow, 'participants' | 'streams'>, legs: readonly string[]) {
  const labelOf = new Map(rec.streams.map((x) => [x.legId, x.label]));
  const split = (labels: readonly string[]) => {
    const left = legs.filter((l) => labels.includes(labelOf.get(l) ?? '\0'));
    return left.length > 0 && left.length < legs.length
      ? [left, legs.filter((l) => !left.includes(l))]
      : undefined;
  };
  const first = rec.streams[0]?.label;
  return (
    split(rec.participants[0]?.sendsLabels ?? []) ??
    (first !== undefined ? split([first]) : undefined) ??
    (legs.length > 1 ? [legs.slice(0, 1), legs.slice(1)] : [legs.slice(), []])
  );
}

async function spoolLegs(spool: string): Promise<string[]> {
  return (await readdir(spool))
    .filter((n) => n.endsWith('.spool'))
    .map((n) => n.slice(0, -'.spool'.length))
    .sort();
}

/** `purged`: the recording was purged after an earlier attempt stored it, and stays so. */
export type FinalizeOutcome = 'stored' | 'already-stored' | 'purged';

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

/** Mixes up to this size in memory; a longer recording is mixed into a file in its spool. */
const IN_MEMORY_MAX = 64 << 20;

export async function finalizeRecording(ctx: FinalizeContext, recordingId: string): Promise<FinalizeOutcome> {
  // This attempt's own plaintext in the spool (`<attempt>.mix.wav`, `.mix.mp3`, extras): a stored
  // recording's spool is wiped whole; an attempt that fails (or loses) wipes its own, as a retry
  // makes new ones.
  const attempt = randomBytes(4).toString('hex');
  try {
    return await finalizeAttempt(ctx, recordingId, attempt);
  } finally {
    await wipeFilesStartingWith(spoolDirOf(ctx.dataDir, recordingId), `${attempt}.`).catch((err: unknown) =>
      ctx.log.warn({ err, recordingId }, 'this attempt’s plaintext files could not be wiped'),
    );
  }
}

async function finalizeAttempt(
  ctx: FinalizeContext,
  recordingId: string,
  attempt: string,
): Promise<FinalizeOutcome> {
  const { recordings, dataDir } = ctx;
  const log = ctx.log.child({ recordingId });
  const step = async (s: FinalizeStep) => ctx.afterStep?.(s, recordingId);
  // The recording as it was, now marked processing unless already stored.
  const rec = await recordings.beginProcessing(recordingId);
  if (!rec) throw new NotFoundError(`recording ${recordingId} is not in the catalogue`);
  const spool = spoolDirOf(dataDir, recordingId);

  if (rec.state === 'stored' || rec.state === 'purged') {
    // Stored: a crash between the commit and the end of the wipe, so finish the wipe only. Purged
    // since an attempt stored it (retention, a transfer's purge, a delete): it stays purged, its
    // files are not made again, and the plaintext left in its spool goes.
    await wipeDir(spool);
    if (rec.state === 'stored') return 'already-stored';
    log.info('recording purged since an attempt stored it: its job ends, the recording untouched');
    return 'purged';
  }
  const retrying = rec.state !== 'recording';
  const store = ctx.artifacts && ctx.artifacts.backend !== 'local' ? ctx.artifacts : undefined;

  const relDir = artifactDir(rec.startedAt);
  // A new day folder (and month, year) must outlive a power cut as much as the files renamed into it.
  if (!store) await mkdirDurable(join(dataDir, relDir), { root: dataDir, mode: 0o700 });
  const relOf = (kind: Kind) =>
    join(
      relDir,
      kind === 'wav' || kind === 'mp3' ? `${recordingId}.${kind}.gpg` : `${recordingId}.${kind}.wav.gpg`,
    );

  const legs = await spoolLegs(spool).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  // Extra outputs (config media.outputs).
  const outputs = ctx.outputs ?? ['mono'];
  const extras: ExtraOutput[] = [];
  if (outputs.includes('stereo') && legs.length > 0)
    extras.push({ kind: 'stereo', channels: stereoChannels(rec, legs) });
  if (outputs.includes('legs')) {
    for (const legId of legs) {
      if (/^leg[0-9]+$/.test(legId)) extras.push({ kind: legId as Kind, channels: [[legId]] });
      else log.warn({ legId }, 'no per-leg file for a leg not named leg<N>');
    }
  }

  // Pause "cut" mode: the spans when the whole recording was paused are left out of every file.
  let cut: [number, number][] | undefined;
  const cutSpans = async () => {
    if (ctx.pauseMode !== 'cut') return undefined;
    cut ??= await readPausedSpans(spool).catch((err: unknown) => {
      // Never lose the recording over its pause log: keep the paused time as silence instead.
      log.warn({ err }, 'pause spans unreadable: paused time kept as silence');
      return [];
    });
    return cut;
  };
  // A mono mix is about 8 bytes per millisecond; a spool holds at least that per leg.
  let longest = (rec.durationMs ?? 0) * 8;
  for (const l of legs) {
    const st = await stat(join(spool, `${l}.spool`)).catch(() => undefined);
    longest = Math.max(longest, st?.size ?? 0);
  }
  /** Mixes in memory; a very long recording into `<spool>/<attempt>.<name>` (plaintext, wiped at the end). */
  const mix = async (name: string, channels?: string[][]): Promise<Plaintext> => {
    const started = Date.now();
    // Never more audio than the call's wall time (+1 s for the clocks): a damaged spool record
    // cannot stretch a short call into hours (docs/security.md).
    const c = [...((await cutSpans()) ?? []), ...wallTimeCap(rec)];
    const toFile = longest * (channels?.length ?? 1) > (ctx.inMemoryMaxBytes ?? IN_MEMORY_MAX);
    // A name of this attempt's own: an overlapping attempt never wipes or rewrites it under us.
    const wavPath = join(spool, `${attempt}.${name}`);
    if (toFile) await wipeFile(wavPath);
    const r = await ctx.mixer.mix({
      spoolDir: spool,
      ...(toFile ? { wavPath } : {}),
      ...(channels ? { channels } : {}),
      ...(c.length > 0 ? { cut: c } : {}),
    });
    log.debug(
      {
        file: name,
        legs: r.legs,
        durationMs: r.durationMs,
        cutSpans: c.length,
        ms: Date.now() - started,
      },
      'recording mixed',
    );
    if (r.data) return r.data;
    return { path: wavPath, size: (await stat(wavPath)).size };
  };
  /** Zeroes a plaintext buffer once it is encrypted (a file goes with the spool). */
  const forget = (p: Plaintext) => {
    if (Buffer.isBuffer(p)) p.fill(0);
  };

  // The active key is read once per job.
  const keyInfo = (await ctx.activeKey?.()) ?? ctx.key;
  const key = await publicKeyOf(keyInfo.publicKeyArmored);
  const files: RecordingFile[] = [];
  // Object store: what an earlier attempt already uploaded is taken as is (one object per artifact),
  // looked for before mixing (a store still unavailable fails the retry before any work).
  const lock = store ? await ctx.objectRetention?.(rec) : undefined;
  const reused = new Set<Kind>();
  if (store && retrying) {
    for (const kind of ['wav', 'mp3', ...extras.map((x) => x.kind)] as Kind[]) {
      const f = await storedArtifact(store, recordingId, kind, relOf(kind), lock, log);
      if (!f) continue;
      files.push(f);
      reused.add(kind);
    }
    if (reused.size > 0) log.info({ kinds: [...reused] }, 'artifacts uploaded by an earlier attempt: reused');
  }
  const needed = (kind: Kind) => !reused.has(kind);
  /** Local files, encrypted under a temporary name: renamed to their own only by the commit. */
  const pending: { tmp: string; dest: string }[] = [];
  const encrypt = async (kind: Kind, plain: Plaintext, name: string) => {
    if (store) {
      const f = await putArtifact({
        store,
        recordingId,
        kind,
        key: relOf(kind),
        plain,
        name,
        publicKey: key,
        fingerprint: keyInfo.fingerprint,
        lock,
        tempDir: spool,
      });
      files.push(f);
      return;
    }
    const dest = join(dataDir, relOf(kind));
    const { tmp, ...r } = await encryptToTemp(plain, dest, key, name);
    pending.push({ tmp, dest });
    files.push({ kind, path: relOf(kind), ...r, keyFingerprint: keyInfo.fingerprint });
  };

  const mono = needed('wav') || needed('mp3') ? await mix('mix.wav') : undefined;
  if (mono) {
    try {
      await step('mixed');
      // The WAV is encrypted here while ffmpeg (another process) encodes the MP3.
      const mp3Branch = async () => {
        if (!needed('mp3')) return;
        // A mix in a file: the MP3 goes to a file beside it (this attempt's, wiped with the spool).
        const encode = (slot?: { background: boolean }): Promise<Plaintext> =>
          Buffer.isBuffer(mono)
            ? encodeMp3(mono, ctx.mp3, slot?.background)
            : encodeMp3ToFile(mono.path, join(spool, `${attempt}.mix.mp3`), ctx.mp3, slot?.background);
        const audioBytes = Buffer.isBuffer(mono) ? mono.length : mono.size;
        const mp3 = await (ctx.encodeSlot ? ctx.encodeSlot(encode, { audioBytes }) : encode());
        try {
          await step('mp3');
          await encrypt('mp3', mp3, `${recordingId}.mp3`);
        } finally {
          forget(mp3);
        }
        await step('encrypted-mp3');
      };
      const wavBranch = async () => {
        if (!needed('wav')) return;
        await encrypt('wav', mono, `${recordingId}.wav`);
        await step('encrypted-wav');
      };
      // Both run to their end (no half-finished branch keeps going after this job fails), then the
      // first failure is the job's.
      const results = await Promise.allSettled([mp3Branch(), wavBranch()]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    } finally {
      forget(mono);
    }
  }
  if (extras.length > 0) {
    for (const x of extras) {
      if (!needed(x.kind)) continue;
      const plain = await mix(`${x.kind}.wav`, x.channels);
      try {
        await encrypt(x.kind, plain, `${recordingId}.${x.kind}.wav`);
      } finally {
        forget(plain);
      }
    }
    await step('encrypted-extras');
  }

  // Every artifact is durable before the catalogue points at it: each new file name (local), or
  // each object as the store confirmed it (put returns after that). Two attempts of one job can
  // overlap (a job expired, or its node's lease lost, while its handler still ran): local files
  // get their names under the recording's row lock, and only while it is not stored, so the
  // attempt that loses never replaces the files the catalogue names.
  if (store) await step('uploaded');
  const committed = await ctx.chain.markStoredChained(
    recordingId,
    files,
    store
      ? undefined
      : async () => {
          for (const p of pending) {
            // Leftovers of an interrupted attempt (or of one that will lose) can only exist if
            // one ran (the directory listing grows with the day's recordings, so the first
            // attempt skips it).
            if (retrying) await removeTempsFor(p.dest, p.tmp);
            await rename(p.tmp, p.dest);
          }
          await fsyncPath(join(dataDir, relDir));
        },
  );
  if (!committed) {
    // Another attempt stored it meanwhile: its files, its report and its wipe stand.
    for (const p of pending) await unlink(p.tmp).catch(() => undefined);
    log.warn('recording stored meanwhile by another attempt of its job: this attempt’s files dropped');
    return 'already-stored';
  }
  await step('stored');
  ctx.onStored?.(recordingId, { durationMs: rec.durationMs ?? 0, endedAt: rec.endedAt });
  await wipeDir(spool);
  await step('wiped');
  log.info('recording stored');
  return 'stored';
}
