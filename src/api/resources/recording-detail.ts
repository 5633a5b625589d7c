import type { RecordingRow } from '../../store/types.js';
import { sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/** One recording's details: catalogue row, annotations, an events timeline, and (admins) its access log. */

/** A recording's catalogue fields as JSON (the API's details and `srs recordings list --json`). */
export function recordingJsonCore(r: RecordingRow) {
  return {
    id: r.id,
    sessionId: r.sessionId,
    callId: r.callId,
    srcAddress: r.srcAddress,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt ? r.endedAt.toISOString() : null,
    durationMs: r.durationMs,
    state: r.state,
    error: r.error,
    interrupted: r.interrupted,
    interactionId: r.interactionId ?? null,
    direction: r.direction ?? null,
    caller: r.caller ?? null,
    callee: r.callee ?? null,
    participants: r.participants.map((p) => ({
      participantId: p.participantId,
      aor: p.aor,
      name: p.name,
      sends: p.sendsLabels,
    })),
  };
}

export function recordingDetailJson(r: RecordingRow) {
  return {
    ...recordingJsonCore(r),
    streams: r.streams,
    files: r.files.map((f) => ({
      kind: f.kind,
      bytes: f.bytes,
      sha256Plain: f.sha256Plain,
      sha256Cipher: f.sha256Cipher,
      keyFingerprint: f.keyFingerprint,
    })),
    mediaStats: r.mediaStats,
    metadataXml: r.metadataXml,
  };
}

interface TimelineEvent {
  at: string;
  offsetMs: number;
  type: string;
  /** In English; `code` and `args` say the same for a console that writes it in its language. */
  text: string;
  code: string;
  args: Record<string, string | number>;
}

type LegStats = {
  legId: string;
  firstPacketMs: number | null;
  packetsLost?: number;
  srtpAuthFailures?: number;
  packetsRejected?: number;
  spoolErrors?: number;
  spoolDamagedSpansMs?: [number, number][];
};

export function recordingDetailRoutes(k: Kit): RouteDef[] {
  const { d } = k;

  const timeline = async (rec: RecordingRow, ann: Awaited<ReturnType<typeof d.db.access.annotations>>) => {
    const events: TimelineEvent[] = [];
    const t0 = rec.startedAt.getTime();
    const ev = (at: Date, type: string, text: string, code = type, args: TimelineEvent['args'] = {}) =>
      events.push({ at: at.toISOString(), offsetMs: at.getTime() - t0, type, text, code, args });
    ev(rec.startedAt, 'start', `recording started (Call-ID ${rec.callId})`, 'recording-started', {
      callId: rec.callId,
    });
    const legs = (rec.mediaStats as { legs?: LegStats[] } | null)?.legs ?? [];
    for (const l of legs) {
      if (l.firstPacketMs !== null && l.firstPacketMs !== undefined)
        ev(new Date(t0 + l.firstPacketMs), 'media', `first RTP packet on ${l.legId}`, 'first-packet', {
          leg: l.legId,
        });
      if (l.packetsLost)
        ev(
          rec.endedAt ?? rec.startedAt,
          'media',
          `${l.packetsLost} packets lost on ${l.legId}`,
          'packets-lost',
          {
            n: l.packetsLost,
            leg: l.legId,
          },
        );
      if (l.srtpAuthFailures)
        ev(
          rec.endedAt ?? rec.startedAt,
          'media',
          `${l.srtpAuthFailures} SRTP packets failed authentication on ${l.legId} (wrong key?)`,
          'srtp-auth-failed',
          { n: l.srtpAuthFailures, leg: l.legId },
        );
      // Security and faults (docs/security.md): foreign datagrams dropped, audio lost to the disk.
      if (l.packetsRejected)
        ev(
          rec.endedAt ?? rec.startedAt,
          'security',
          `${l.packetsRejected} datagrams from other sources dropped on ${l.legId}`,
          'foreign-dropped',
          { n: l.packetsRejected, leg: l.legId },
        );
      for (const [from, to] of l.spoolDamagedSpansMs ?? [])
        ev(
          new Date(t0 + from),
          'damaged',
          `${l.legId}: ${Math.round(to - from)} ms of audio lost (spool write failed)`,
          'spool-damaged',
          { leg: l.legId, ms: Math.round(to - from) },
        );
      if (l.spoolErrors && !l.spoolDamagedSpansMs?.length)
        ev(
          rec.endedAt ?? rec.startedAt,
          'damaged',
          `${l.spoolErrors} spool write failures on ${l.legId}`,
          'spool-errors',
          { n: l.spoolErrors, leg: l.legId },
        );
    }
    for (const e of await d.db.access.sessionEvents(rec.id)) {
      const { xml: _xml, ...rest } = e.detail;
      const summary = Object.entries(rest)
        .map(([key, v]) => `${key}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
        .slice(0, 200);
      ev(e.at, e.type, summary ? `${e.type} ${summary}` : e.type, 'session-event', { type: e.type, summary });
    }
    if (rec.endedAt)
      ev(
        rec.endedAt,
        'end',
        `call ended after ${((rec.durationMs ?? 0) / 1000).toFixed(1)} s`,
        'call-ended',
        {
          seconds: (rec.durationMs ?? 0) / 1000,
        },
      );
    if (ann.preservedAt)
      ev(ann.preservedAt, 'preserve', `preserved by ${ann.preservedBy}`, 'preserved', {
        by: ann.preservedBy ?? '',
      });
    for (const n of ann.notes) ev(n.createdAt, 'note', `note by ${n.author}`, 'note', { author: n.author });
    return events.sort((a, b) => a.offsetMs - b.offsetMs);
  };

  /** The recording's own audit entries and the bulk exports that name it, newest first. */
  const accessLog = async (id: string) => {
    const [own, exports] = await Promise.all([
      d.db.audit.search({ resource: 'recording', resourceId: id, limit: 100 }),
      d.db.audit.search({ action: 'export', q: id, limit: 100 }),
    ]);
    const byId = new Map([...own.items, ...exports.items].map((e) => [e.id, e]));
    return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, 100);
  };

  return [
    route({
      method: 'GET',
      path: '/recordings/:id',
      summary:
        'Details: participants, streams, files, metadata, events timeline, notes, categories, custom fields',
      role: 'user',
      async handler(ctx, { params }) {
        const rec = await k.visibleRecording(ctx, params.id as string);
        const ann = await d.db.access.annotations(rec.id);
        const fields = await d.db.fields.valuesOf(rec.id);
        // The other recordings of its interaction that the caller may see, oldest first.
        const parts = rec.interactionId
          ? (
              await d.db.access.search(need(ctx), { interaction: rec.interactionId, limit: 100 })
            ).items.reverse()
          : [];
        const events = await timeline(rec, ann);
        const auditTrail = need(ctx).role === 'admin' ? await accessLog(rec.id) : [];
        sendJson(ctx.res, 200, {
          ...recordingDetailJson(rec),
          notes: ann.notes,
          categories: ann.categories,
          fields,
          interaction: rec.interactionId
            ? {
                id: rec.interactionId,
                parts: parts.map((p) => ({
                  id: p.id,
                  callId: p.callId,
                  startedAt: p.startedAt,
                  durationMs: p.durationMs,
                  state: p.state,
                  participants: p.participants,
                })),
              }
            : null,
          preserved: ann.preservedAt
            ? { at: ann.preservedAt, by: ann.preservedBy, rank: ann.preservedRank }
            : null,
          groups: ann.groups,
          events,
          auditTrail,
        });
      },
    }),
  ];
}
