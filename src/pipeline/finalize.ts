import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import { readPausedSpans } from '../media/index.js';
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
 * With extra outputs configured, the stereo and per-leg WAVs are mixed, encrypted and catalogued
 * the same way (kinds `stereo`, `leg<N>`) before the recording is marked stored.
 */

export type FinalizeStep =
  'mixed' | 'mp3' | 'encrypted-mp3' | 'encrypted-wav' | 'encrypted-extras' | 'stored' | 'wiped';

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
  /** Marks stored and appends to the day's hash chain in one transaction (else plain markStored). */
  chain?: Pick<ChainRepository, 'markStoredChained'>;
  /** Called after each step; tests throw from it to simulate a crash at that point. */
  afterStep?: (step: FinalizeStep, recordingId: string) => void | Promise<void>;
  /** Default ['mono']: only the mono WAV (and the MP3). */
  outputs?: readonly AudioOutput[];
  /** Default 'silence'. */
  pauseMode?: PauseMode;
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
  const relOf = (kind: Kind) =>
    join(
      relDir,
      kind === 'wav' || kind === 'mp3' ? `${recordingId}.${kind}.gpg` : `${recordingId}.${kind}.wav.gpg`,
    );
  const rel = { wav: relOf('wav'), mp3: relOf('mp3') };
  const wavDone = await alreadyStored(dataDir, rec, 'wav', rel.wav);
  const mp3Done = await alreadyStored(dataDir, rec, 'mp3', rel.mp3);

  // Extra outputs still to make (each is skipped once catalogued with its file in place).
  const outputs = ctx.outputs ?? ['mono'];
  const extras: ExtraOutput[] = [];
  if (outputs.includes('stereo') || outputs.includes('legs')) {
    const legs = await spoolLegs(spool).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    if (outputs.includes('stereo') && legs.length > 0)
      extras.push({ kind: 'stereo', channels: stereoChannels(rec, legs) });
    if (outputs.includes('legs')) {
      for (const legId of legs) {
        if (/^leg[0-9]+$/.test(legId)) extras.push({ kind: legId as Kind, channels: [[legId]] });
        else log.warn({ legId }, 'no per-leg file for a leg not named leg<N>');
      }
    }
  }
  const pendingExtras: ExtraOutput[] = [];
  for (const x of extras)
    if (!(await alreadyStored(dataDir, rec, x.kind, relOf(x.kind)))) pendingExtras.push(x);

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
  /** Mixes into `<spool>/<name>` unless it is there; the mixer writes `.part`, renamed when complete. */
  const mixTo = async (name: string, channels?: string[][]) => {
    const out = join(spool, name);
    if (await exists(out)) return out;
    const part = `${out}.part`;
    await wipeFile(part);
    const started = Date.now();
    const c = await cutSpans();
    const r = await ctx.mixer.mix({
      spoolDir: spool,
      wavPath: part,
      ...(channels ? { channels } : {}),
      ...(c && c.length > 0 ? { cut: c } : {}),
    });
    await fsyncPath(part);
    await renameDurable(part, out);
    log.info(
      {
        file: name,
        legs: r.legs,
        durationMs: r.durationMs,
        cutSpans: c?.length ?? 0,
        ms: Date.now() - started,
      },
      'recording mixed',
    );
    return out;
  };

  // The active key is read once per job, when the first file is encrypted.
  let keyInfoP: Promise<{ fingerprint: string; publicKeyArmored: string }> | undefined;
  const file = async (kind: Kind, plain: string) => {
    keyInfoP ??= (async () => (await ctx.activeKey?.()) ?? ctx.key)();
    const keyInfo = await keyInfoP;
    const key = await publicKeyOf(keyInfo.publicKeyArmored);
    const dest = join(dataDir, relOf(kind));
    // Leftovers of an interrupted attempt can only exist if one ran (the directory listing
    // grows with the day's recordings, so the first attempt skips it).
    if (retrying) await removeTempsFor(dest);
    const r = await encryptFile(plain, dest, key);
    await recordings.addFile(recordingId, {
      kind,
      path: relOf(kind),
      ...r,
      keyFingerprint: keyInfo.fingerprint,
    });
  };

  if (!wavDone || !mp3Done) {
    const mixWav = await mixTo('mix.wav');
    await step('mixed');
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
  if (pendingExtras.length > 0) {
    for (const x of pendingExtras) await file(x.kind, await mixTo(`${x.kind}.wav`, x.channels));
    await step('encrypted-extras');
  }

  if (ctx.chain) await ctx.chain.markStoredChained(recordingId);
  else await recordings.markStored(recordingId);
  await step('stored');
  await wipeDir(spool);
  await step('wiped');
  log.info('recording stored');
  return 'stored';
}
