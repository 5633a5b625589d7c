/**
 * What is known about a recording over the call: metadata updates merged (RFC 7865 §6.1) and who
 * speaks on which SDP label.
 */
import type { RecordingMetadata } from './metadata.js';

function mergeById<T extends { id: string }>(base: T[], update: T[], merge: (a: T, b: T) => T): T[] {
  const out = base.map((x) => ({ ...x }));
  const at = new Map<string, number>();
  out.forEach((x, i) => {
    if (!at.has(x.id)) at.set(x.id, i);
  });
  for (const u of update) {
    const i = at.get(u.id);
    if (i === undefined) {
      at.set(u.id, out.length);
      out.push({ ...u });
    } else out[i] = merge(out[i] as T, u);
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
    sipSessionIds: [...new Set([...a.sipSessionIds, ...b.sipSessionIds])],
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
  const byParticipant = new Map<string, (typeof assoc)[number]>();
  for (const a of assoc) if (!byParticipant.has(a.participantId)) byParticipant.set(a.participantId, a);
  for (const u of update.participantStreams) {
    const existing = byParticipant.get(u.participantId);
    if (existing === undefined) {
      const added = { ...u, send: [...u.send], recv: [...u.recv] };
      assoc.push(added);
      byParticipant.set(u.participantId, added);
    } else {
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
  const known = new Set(people.map((p) => p.participantId));
  // Each participant's labels, in the order its associations name them (Sets: linear in the ids).
  const labels = new Map<string, Set<string>>();
  for (const a of md.participantStreams) {
    if (!known.has(a.participantId)) {
      known.add(a.participantId);
      people.push({ participantId: a.participantId, aor: null, name: null });
    }
    let set = labels.get(a.participantId);
    if (set === undefined) labels.set(a.participantId, (set = new Set()));
    for (const id of a.send) {
      const label = labelById.get(id);
      if (label !== undefined) set.add(label);
    }
  }
  return people.map((p) => ({ ...p, sendsLabels: [...(labels.get(p.participantId) ?? [])] }));
}
