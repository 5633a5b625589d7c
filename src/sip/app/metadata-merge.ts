/**
 * What is known about a recording over the call: metadata updates merged (RFC 7865 §6.1) and who
 * speaks on which SDP label.
 */
import type { RecordingMetadata } from './metadata.js';

function mergeById<T extends { id: string }>(base: T[], update: T[], merge: (a: T, b: T) => T): T[] {
  const out = base.map((x) => ({ ...x }));
  for (const u of update) {
    const i = out.findIndex((x) => x.id === u.id);
    if (i < 0) out.push({ ...u });
    else out[i] = merge(out[i] as T, u);
  }
  return out;
}

function clone(md: RecordingMetadata): RecordingMetadata {
  return {
    ...md,
    sessions: md.sessions.map((s) => ({ ...s, sipSessionIds: [...s.sipSessionIds] })),
    participants: md.participants.map((p) => ({ ...p })),
    streams: md.streams.map((s) => ({ ...s })),
    participantStreams: md.participantStreams.map((a) => ({ ...a, send: [...a.send], recv: [...a.recv] })),
    extensions: { ...md.extensions },
    groups: [...md.groups],
  };
}

/**
 * Apply an update to what is known (RFC 7865 §6.1): a `complete` document replaces everything; a `partial`
 * one carries changes only and is merged element by element by id. A partial participantstreamassoc
 * states the participant's current send (or recv) set and replaces it; an empty one changes nothing.
 */
export function mergeMetadata(base: RecordingMetadata | null, update: RecordingMetadata): RecordingMetadata {
  if (base === null || update.dataMode === 'complete') return clone(update);
  const result = clone(base);
  result.dialect = update.dialect === 'unknown' ? base.dialect : update.dialect;
  result.sessions = mergeById(base.sessions, update.sessions, (a, b) => ({
    ...a,
    sipSessionIds: [...a.sipSessionIds, ...b.sipSessionIds.filter((x) => !a.sipSessionIds.includes(x))],
    ...(b.startTime !== undefined ? { startTime: b.startTime } : {}),
    ...(b.stopTime !== undefined ? { stopTime: b.stopTime } : {}),
  }));
  result.participants = mergeById(base.participants, update.participants, (a, b) => ({
    ...a,
    aor: b.aor ?? a.aor,
    name: b.name ?? a.name,
    ...(b.associateTime !== undefined ? { associateTime: b.associateTime } : {}),
    ...(b.disassociateTime !== undefined ? { disassociateTime: b.disassociateTime } : {}),
  }));
  result.streams = mergeById(base.streams, update.streams, (a, b) => ({
    ...a,
    label: b.label ?? a.label,
    sessionId: b.sessionId ?? a.sessionId,
  }));
  const assoc = result.participantStreams;
  for (const u of update.participantStreams) {
    const existing = assoc.find((a) => a.participantId === u.participantId);
    if (existing === undefined) assoc.push({ ...u, send: [...u.send], recv: [...u.recv] });
    else {
      if (u.send.length > 0) existing.send = [...u.send];
      if (u.recv.length > 0) existing.recv = [...u.recv];
    }
  }
  result.extensions = { ...base.extensions, ...update.extensions };
  return result;
}

/**
 * Who speaks on which SDP label: participant → participantstreamassoc/send (or draft <send>) → stream id
 * → that stream's label. Never by label value or m-line order (OpenSIPS labels the caller `1`, callee `0`).
 * Every participant is listed, with no labels when nothing links it to a stream.
 */
export function participantsForLabels(
  md: RecordingMetadata,
): { participantId: string; aor: string | null; name: string | null; sendsLabels: string[] }[] {
  const labelById = new Map<string, string>();
  for (const s of md.streams) if (s.label !== null && !labelById.has(s.id)) labelById.set(s.id, s.label);
  const people = md.participants.map((p) => ({ participantId: p.id, aor: p.aor, name: p.name }));
  for (const a of md.participantStreams) {
    if (!people.some((p) => p.participantId === a.participantId)) {
      people.push({ participantId: a.participantId, aor: null, name: null });
    }
  }
  return people.map((p) => {
    const sendsLabels: string[] = [];
    for (const a of md.participantStreams) {
      if (a.participantId !== p.participantId) continue;
      for (const id of a.send) {
        const label = labelById.get(id);
        if (label !== undefined && !sendsLabels.includes(label)) sendsLabels.push(label);
      }
    }
    return { ...p, sendsLabels };
  });
}
