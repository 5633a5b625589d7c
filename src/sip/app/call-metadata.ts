/**
 * The recording metadata as one call uses it: read leniently (a document that does not parse is
 * kept raw), the streams' ids by SDP label, the caller and callee for the policy, and the
 * participants who joined or left between two states (for the recording's events).
 */
import type { Logger } from '../../log.js';
import type { SessionEvent } from '../../recording/types.js';
import { MetadataLimitError, parseMetadata, type RecordingMetadata } from './metadata.js';
import type { CallParties } from './policy.js';

/** label -> metadata stream_id. */
export function streamIdsOf(md: RecordingMetadata | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of md?.streams ?? []) if (s.label !== null && out[s.label] === undefined) out[s.label] = s.id;
  return out;
}

/**
 * Caller and callee for the recording policy: Ribbon's callData From/To when present, else the
 * first two participants of the metadata (SRCs list the caller first), else unknown.
 */
export function partiesOf(md: RecordingMetadata | null): CallParties {
  const ext = md?.extensions ?? {};
  const p = md?.participants ?? [];
  return {
    caller: ext.from ?? p[0]?.aor ?? null,
    callee: ext.to ?? p[1]?.aor ?? null,
  };
}

/** Participant ids joined and left between two metadata states, for events. */
export function participantChanges(
  before: RecordingMetadata | null,
  after: RecordingMetadata,
  at: Date,
): SessionEvent[] {
  const events: SessionEvent[] = [];
  const beforeById = new Map<string, RecordingMetadata['participants'][number]>();
  for (const p of before?.participants ?? []) if (!beforeById.has(p.id)) beforeById.set(p.id, p);
  const afterIds = new Set(after.participants.map((p) => p.id));
  for (const p of after.participants) {
    const old = beforeById.get(p.id);
    if (!old) {
      events.push({
        at: p.associateTime ? new Date(p.associateTime) : at,
        type: 'participant-joined',
        detail: { participantId: p.id, aor: p.aor, name: p.name },
      });
    }
    if (p.disassociateTime !== undefined && old?.disassociateTime === undefined) {
      events.push({
        at: new Date(p.disassociateTime),
        type: 'participant-left',
        detail: { participantId: p.id, aor: p.aor, name: p.name },
      });
    }
  }
  // A complete document that no longer lists someone: they left.
  if (after.dataMode === 'complete' && before) {
    for (const p of before.participants) {
      if (p.disassociateTime === undefined && !afterIds.has(p.id)) {
        events.push({
          at,
          type: 'participant-left',
          detail: { participantId: p.id, aor: p.aor, name: p.name },
        });
      }
    }
  }
  return events.map((e) => (Number.isNaN(e.at.getTime()) ? { ...e, at } : e));
}

/**
 * The parsed metadata, or null when there is none or it does not parse (logged). Metadata over
 * METADATA_LIMITS throws MetadataLimitError: the request is refused (requests.ts `readMetadataOr413`).
 */
export function readMetadata(xml: string | null, log: Logger): RecordingMetadata | null {
  if (!xml) return null;
  try {
    return parseMetadata(xml);
  } catch (err) {
    if (err instanceof MetadataLimitError) throw err;
    // RFC 7866 lets the SRS record without metadata; keep the raw XML with the recording.
    log.warn({ err: (err as Error).message }, 'rs-metadata could not be parsed; recording without it');
    return null;
  }
}
