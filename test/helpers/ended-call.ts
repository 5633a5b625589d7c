import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../src/store/db.js';
import type { NewRecording } from '../../src/store/types.js';
import { spoolFile, tone } from './audio.js';

/**
 * A one-stream recording's catalogue row as a call's start makes it (state `recording`), with the
 * fields of `o` in place of the defaults. Returns the recording id.
 */
export async function recordingRow(db: Database, o: Partial<NewRecording> = {}): Promise<string> {
  const id = o.id ?? randomUUID();
  await db.recordings.create({
    id,
    sessionId: null,
    callId: `call-${id}@pbx`,
    srcAddress: '192.0.2.1:5060',
    startedAt: new Date(),
    participants: [{ participantId: 'p1', aor: 'sip:alice@example.com', name: 'A', sendsLabels: ['1'] }],
    streams: [{ label: '1', streamId: 's1', legId: 'leg0', codec: 'PCMU', port: 20000 }],
    metadataXml: null,
    ...o,
  });
  return id;
}

/**
 * An ended one-stream call as the recording service leaves it for its finalize job: its catalogue
 * row (ended `ms` after `startedAt`) and a tone of `hz` for `ms` in its spool (`leg0.spool`).
 * Returns the recording id.
 */
export async function endedCallWithTone(
  db: Database,
  dataDir: string,
  o: { prefix: string; startedAt: Date; hz: number; ms: number },
): Promise<string> {
  const id = randomUUID();
  await recordingRow(db, {
    id,
    sessionId: `sess-${id.slice(0, 4)}`,
    callId: `${o.prefix}-${id}@pbx`,
    srcAddress: '127.0.0.1:5060',
    startedAt: o.startedAt,
    participants: [{ participantId: 'a', aor: 'sip:100@pbx', name: 'Caller', sendsLabels: ['1'] }],
  });
  await db.recordings.markEnded(id, new Date(o.startedAt.getTime() + o.ms), o.ms, { legs: 1 });
  const spool = join(dataDir, 'spool', id);
  await mkdir(spool, { recursive: true });
  await writeFile(join(spool, 'leg0.spool'), spoolFile(tone(o.hz, o.ms, 8000)));
  return id;
}

/**
 * A stored one-stream recording as retention finds it: its catalogue row (ended at `endedAt`, 60 s
 * long), an MP3 and a WAV artifact of `bytes` each under `dir` (relative to `dataDir`), and its
 * stored state with the day's chain entry. Returns the recording id.
 */
export async function storedRecording(
  db: Database,
  dataDir: string,
  o: { startedAt: Date; endedAt: Date; dir: string; bytes: number },
): Promise<string> {
  const id = randomUUID();
  await recordingRow(db, {
    id,
    sessionId: `s-${id.slice(0, 8)}`,
    callId: `c-${id}@pbx`,
    srcAddress: '192.0.2.9:5060',
    startedAt: o.startedAt,
    participants: [{ participantId: 'a', aor: 'sip:1001@pbx', name: 'A', sendsLabels: ['1'] }],
  });
  await db.recordings.markEnded(id, o.endedAt, 60_000, null);
  await mkdir(join(dataDir, o.dir), { recursive: true });
  const files = [];
  for (const kind of ['mp3', 'wav'] as const) {
    const path = join(o.dir, `${id}.${kind}.gpg`);
    await writeFile(join(dataDir, path), Buffer.alloc(o.bytes, 7));
    files.push({ kind, path, bytes: o.bytes, sha256Plain: 'p', sha256Cipher: 'c', keyFingerprint: 'k' });
  }
  assert.equal(await db.chain.markStoredChained(id, files), true);
  return id;
}
