/**
 * Recording metadata (RFC 7865 and the dialects SRCs really send; SIPREC-NOTES.md, "Metadata").
 *
 * The XML is read into a small namespace-aware tree and every element is matched by its local name, so
 * `tns:participant`, `participant` and `rec:participant` are the same thing. Elements bound to a namespace
 * that is neither the document's nor a known recording namespace are vendor extensions and are skipped
 * (except Ribbon's `callData`, which is kept in `extensions`). Names are compared case-insensitively and
 * without `-`/`_` (`dataMode`, `datamode`; `sipSessionID`), because vendors differ exactly there.
 *
 * Safety: no DTD, no entity expansion (src/sip/app/xml.ts).
 */
import { ParseError, SrsError } from '../../errors.js';
import { allElements, attr, childText, descendants, norm, readXml, type XmlElement } from './xml.js';

export { mergeMetadata, participantsForLabels } from './metadata-merge.js';

export type MetadataDialect = 'rfc7865' | 'draft' | 'ribbon' | 'broadworks' | 'unknown';

export interface MetadataSession {
  id: string;
  sipSessionIds: string[];
  startTime?: string;
  stopTime?: string;
}

export interface MetadataParticipant {
  id: string;
  aor: string | null;
  name: string | null;
  associateTime?: string;
  disassociateTime?: string;
}

export interface MetadataStream {
  id: string;
  label: string | null;
  sessionId: string | null;
}

export interface ParticipantStreams {
  participantId: string;
  /** Stream ids this participant sends. */
  send: string[];
  /** Stream ids this participant receives. */
  recv: string[];
}

export interface RecordingMetadata {
  dialect: MetadataDialect;
  dataMode: 'complete' | 'partial';
  sessions: MetadataSession[];
  participants: MetadataParticipant[];
  streams: MetadataStream[];
  participantStreams: ParticipantStreams[];
  /** Vendor data worth keeping, e.g. Ribbon callData: `from`, `to`, `callId`. */
  extensions: Record<string, string>;
  /**
   * Communication session groups (RFC 7865 `<group group_id>`, and a session's `<group-ref>`):
   * the sessions of one interaction (a transfer, a consultation) share one.
   */
  groups: string[];
}

export const NS_RFC7865 = 'urn:ietf:params:xml:ns:recording:1';
export const NS_DRAFT = 'urn:ietf:params:xml:ns:recording';
export const NS_BROADWORKS = 'urn:ietf:params:xml:ns:siprec';
const RECORDING_NAMESPACES = new Set([NS_RFC7865, NS_DRAFT, NS_BROADWORKS]);

/** Stream ids inside a `<send>`/`<recv>`: its text (RFC 7865, draft) or its `<id>` children (BroadWorks). */
function idsOf(el: XmlElement): string[] {
  const fromChildren = el.children.filter((c) => c.key === 'id').flatMap((c) => c.text.split(/\s+/));
  return [...el.text.split(/\s+/), ...fromChildren].filter((s) => s !== '');
}

/**
 * The most one metadata document (and the state an update merges into) may hold. Real documents
 * list a few participants and streams; these bound the work and storage a hostile one costs.
 */
export const METADATA_LIMITS = {
  sessions: 1000,
  sipSessionIds: 1000,
  participants: 1000,
  streams: 1000,
  groups: 1000,
  /** Stream ids in every `<send>` and `<recv>` together. */
  streamIds: 10_000,
} as const;

const LIMIT_NAMES: Record<keyof typeof METADATA_LIMITS, string> = {
  sessions: 'sessions',
  sipSessionIds: 'SIP session ids',
  participants: 'participants',
  streams: 'streams',
  groups: 'groups',
  streamIds: 'stream ids in send/recv',
};

/** Metadata over METADATA_LIMITS: the request is refused (413), not recorded without it. */
export class MetadataLimitError extends SrsError {
  constructor(message: string) {
    super('ERR_METADATA_LIMIT', message);
  }
}

/** Throws MetadataLimitError when `md` holds more than METADATA_LIMITS allows. */
export function checkMetadataLimits(md: RecordingMetadata): void {
  const counts: Record<keyof typeof METADATA_LIMITS, number> = {
    sessions: md.sessions.length,
    sipSessionIds: md.sessions.reduce((n, s) => n + s.sipSessionIds.length, 0),
    participants: md.participants.length,
    streams: md.streams.length,
    groups: md.groups.length,
    streamIds: md.participantStreams.reduce((n, a) => n + a.send.length + a.recv.length, 0),
  };
  for (const k of Object.keys(METADATA_LIMITS) as (keyof typeof METADATA_LIMITS)[]) {
    if (counts[k] > METADATA_LIMITS[k])
      throw new MetadataLimitError(
        `rs-metadata lists ${counts[k]} ${LIMIT_NAMES[k]}, over the limit of ${METADATA_LIMITS[k]}`,
      );
  }
}

/** Adds the values `seen` does not hold yet to `list`, in order (a Set: linear in the values). */
function pushUnique(list: string[], seen: Set<string>, values: string[]): void {
  for (const v of values)
    if (!seen.has(v)) {
      seen.add(v);
      list.push(v);
    }
}

function detectDialect(root: XmlElement): MetadataDialect {
  if (root.key === 'recordingmetadata' || root.ns === NS_BROADWORKS) return 'broadworks';
  if (root.prefix === 'tns' || [...allElements(root)].some((e) => e.key === 'calldata')) return 'ribbon';
  if (root.ns === NS_RFC7865) return 'rfc7865';
  if (root.ns === NS_DRAFT) return 'draft';
  return 'unknown';
}

/** Ribbon/Sonus callData children → `from`, `to`, `callId`; anything else under its own local name. */
function callDataKey(local: string): string {
  const k = norm(local);
  if (k === 'from' || k === 'fromhdr' || k === 'fromheader' || k === 'fromuri') return 'from';
  if (k === 'to' || k === 'tohdr' || k === 'toheader' || k === 'touri') return 'to';
  if (k === 'callid' || k === 'callidhdr' || k === 'callidheader') return 'callId';
  return local;
}

/**
 * Parse an rs-metadata document. Throws ParseError when it is not XML or its root is not a recording
 * (`recording`, `recording_metadata`), and MetadataLimitError when it holds more than
 * METADATA_LIMITS. Missing pieces are left out rather than refused: metadata is advisory and the
 * call is recorded either way.
 */
export function parseMetadata(xml: string): RecordingMetadata {
  const root = readXml(xml);
  if (root.key !== 'recording' && root.key !== 'recordingmetadata') {
    throw new ParseError(`no recognised metadata root (found ${root.key})`);
  }
  const ours = (e: XmlElement): boolean =>
    e.ns === null || e.ns === root.ns || RECORDING_NAMESPACES.has(e.ns);

  const md: RecordingMetadata = {
    dialect: detectDialect(root),
    dataMode: 'complete',
    sessions: [],
    participants: [],
    streams: [],
    participantStreams: [],
    extensions: {},
    groups: [],
  };
  const sessions = new Map<string, MetadataSession>();
  /** What each list already holds, beside it: pushUnique stays linear in the document. */
  const seen = new Map<string[], Set<string>>();
  const seenIn = (list: string[]): Set<string> => {
    let set = seen.get(list);
    if (set === undefined) seen.set(list, (set = new Set(list)));
    return set;
  };
  const participants = new Map<string, MetadataParticipant>();
  const streams = new Map<string, MetadataStream>();
  const assoc = new Map<string, ParticipantStreams>();

  const session = (id: string): MetadataSession => {
    let s = sessions.get(id);
    if (s === undefined) sessions.set(id, (s = { id, sipSessionIds: [] }));
    return s;
  };
  const participant = (id: string): MetadataParticipant => {
    let p = participants.get(id);
    if (p === undefined) participants.set(id, (p = { id, aor: null, name: null }));
    return p;
  };
  const streamsOf = (participantId: string): ParticipantStreams => {
    let a = assoc.get(participantId);
    if (a === undefined) assoc.set(participantId, (a = { participantId, send: [], recv: [] }));
    return a;
  };
  /** When the CS joined/left the recording, unless the session states it itself. */
  const associationTimes = (el: XmlElement, s: MetadataSession): void => {
    const start = childText(el, 'associatetime', ours);
    const stop = childText(el, 'disassociatetime', ours);
    if (start && s.startTime === undefined) s.startTime = start;
    if (stop && s.stopTime === undefined) s.stopTime = stop;
  };
  const addSendRecv = (el: XmlElement, participantId: string): void => {
    for (const c of el.children) {
      if (!ours(c) || (c.key !== 'send' && c.key !== 'recv')) continue;
      const ids = idsOf(c);
      if (ids.length === 0) continue;
      const list = streamsOf(participantId)[c.key];
      pushUnique(list, seenIn(list), ids);
    }
  };

  for (const el of descendants(root, ours)) {
    switch (el.key) {
      case 'datamode':
        if (el.text.toLowerCase() === 'partial') md.dataMode = 'partial';
        break;
      case 'session': {
        const s = session(attr(el, 'sessionid', 'id') ?? '');
        for (const c of el.children) {
          if (!ours(c)) continue;
          if (c.key === 'sipsessionid' && c.text !== '')
            pushUnique(s.sipSessionIds, seenIn(s.sipSessionIds), [c.text]);
          if (c.key === 'starttime' && c.text !== '') s.startTime = c.text;
          if (c.key === 'stoptime' && c.text !== '') s.stopTime = c.text;
          if (c.key === 'groupref' && c.text.trim() !== '')
            pushUnique(md.groups, seenIn(md.groups), [c.text.trim()]);
        }
        // Pre-RFC drafts put the association times on the session itself.
        associationTimes(el, s);
        break;
      }
      case 'group': {
        const id = attr(el, 'groupid', 'id')?.trim();
        if (id) pushUnique(md.groups, seenIn(md.groups), [id]);
        break;
      }
      case 'sessionrecordingassoc': {
        // When the CS joined/left the recording: the session's start/stop unless it states them itself.
        associationTimes(el, session(attr(el, 'sessionid', 'session', 'id') ?? ''));
        break;
      }
      case 'participant': {
        const p = participant(attr(el, 'participantid', 'id') ?? '');
        for (const c of el.children) {
          if (!ours(c)) continue;
          if (c.key === 'nameid') {
            const aor = attr(c, 'aor') || childText(c, 'aor', ours);
            const name = childText(c, 'name', ours);
            if (aor && p.aor === null) p.aor = aor;
            if (name && p.name === null) p.name = name;
          } else if (c.key === 'aor' && c.text !== '' && p.aor === null) {
            p.aor = c.text;
          } else if (c.key === 'name' && c.text !== '' && p.name === null) {
            p.name = c.text;
          } else if (c.key === 'associatetime' && c.text !== '') {
            p.associateTime ??= c.text;
          } else if (c.key === 'disassociatetime' && c.text !== '') {
            p.disassociateTime = c.text;
          }
        }
        if (p.aor === null) p.aor = attr(el, 'aor') || null;
        if (p.name === null) p.name = attr(el, 'name') || null;
        addSendRecv(el, p.id); // pre-RFC draft and BroadWorks: <send> inside <participant>
        break;
      }
      case 'participantsessionassoc': {
        const p = participant(attr(el, 'participantid', 'participant', 'id') ?? '');
        const start = childText(el, 'associatetime', ours);
        const stop = childText(el, 'disassociatetime', ours);
        if (start) p.associateTime ??= start;
        if (stop) p.disassociateTime = stop;
        break;
      }
      case 'participantstreamassoc':
        addSendRecv(el, attr(el, 'participantid', 'participant', 'id') ?? '');
        break;
      case 'stream': {
        const id = attr(el, 'streamid', 'id') ?? '';
        const label = childText(el, 'label', ours) || attr(el, 'label') || null;
        const sessionId = attr(el, 'sessionid', 'session') ?? null;
        const existing = streams.get(id);
        if (existing === undefined) streams.set(id, { id, label, sessionId });
        else {
          existing.label ??= label;
          existing.sessionId ??= sessionId;
        }
        break;
      }
    }
  }

  // Ribbon/Sonus put the original call's From/To/Call-ID in a callData extension, in any namespace.
  const extensions = new Map<string, string>();
  for (const el of allElements(root)) {
    if (el.key !== 'calldata') continue;
    for (const c of allElements(el)) {
      const key = callDataKey(c.local);
      if (c.children.length === 0 && c.text !== '' && !extensions.has(key)) extensions.set(key, c.text);
    }
    for (const [name, value] of el.attrs)
      if (!extensions.has(callDataKey(name))) extensions.set(callDataKey(name), value);
  }
  md.extensions = Object.fromEntries(extensions);

  md.sessions = [...sessions.values()];
  md.participants = [...participants.values()];
  md.streams = [...streams.values()];
  md.participantStreams = [...assoc.values()];
  checkMetadataLimits(md);
  return md;
}
