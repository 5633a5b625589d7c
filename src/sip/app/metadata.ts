/**
 * Recording metadata (RFC 7865 and the dialects SRCs really send; SIPREC-NOTES.md, "Metadata").
 *
 * The XML is read into a small namespace-aware tree and every element is matched by its local name, so
 * `tns:participant`, `participant` and `rec:participant` are the same thing. Elements bound to a namespace
 * that is neither the document's nor a known recording namespace are vendor extensions and are skipped
 * (except Ribbon's `callData`, which is kept in `extensions`). Names are compared case-insensitively and
 * without `-`/`_` (`dataMode`, `datamode`; `sipSessionID`), because vendors differ exactly there.
 *
 * Safety: no DTD, no entity expansion. fast-xml-parser runs with entity processing off; only the five
 * predefined entities and character references are decoded here, and a document with a DOCTYPE is refused.
 */
import { XMLParser } from 'fast-xml-parser';
import { ParseError } from '../../errors.js';

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
}

export const NS_RFC7865 = 'urn:ietf:params:xml:ns:recording:1';
export const NS_DRAFT = 'urn:ietf:params:xml:ns:recording';
export const NS_BROADWORKS = 'urn:ietf:params:xml:ns:siprec';
const RECORDING_NAMESPACES = new Set([NS_RFC7865, NS_DRAFT, NS_BROADWORKS]);

/** Larger than any real metadata document (they are a few kB); bounds parsing work on hostile input. */
const MAX_XML_CHARS = 1_000_000;

interface XmlElement {
  /** Local name as written. */
  local: string;
  /** Local name, normalised by `norm`. */
  key: string;
  prefix: string | null;
  /** Resolved namespace URI; null when unbound or none. */
  ns: string | null;
  /** Attributes by normalised local name (xmlns declarations excluded). */
  attrs: Map<string, string>;
  children: XmlElement[];
  text: string;
}

type FxpNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/** Lower-case, no `-`/`_`: `sipSessionID` → `sipsessionid`, `associate-time` → `associatetime`. */
function norm(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)
        ? String.fromCodePoint(code)
        : whole;
    }
    return Object.hasOwn(PREDEFINED, ref) ? (PREDEFINED[ref] as string) : whole;
  });
}

function splitName(qname: string): { prefix: string | null; local: string } {
  const colon = qname.indexOf(':');
  return colon < 0
    ? { prefix: null, local: qname }
    : { prefix: qname.slice(0, colon), local: qname.slice(colon + 1) };
}

/** Build the tree from fast-xml-parser's ordered output, resolving prefixes against in-scope xmlns. */
function buildElements(nodes: unknown, scope: Map<string, string>, depth: number): XmlElement[] {
  const out: XmlElement[] = [];
  if (!Array.isArray(nodes) || depth > 200) return out;
  for (const node of nodes as FxpNode[]) {
    if (node === null || typeof node !== 'object') continue;
    for (const qname of Object.keys(node)) {
      if (qname === ':@' || qname === '#text' || qname.startsWith('?') || qname.startsWith('!')) continue;
      const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
      let inner = scope;
      const attrs = new Map<string, string>();
      for (const [aname, avalue] of Object.entries(rawAttrs)) {
        const value = decodeEntities(typeof avalue === 'string' ? avalue : String(avalue ?? ''));
        if (aname === 'xmlns' || aname.startsWith('xmlns:')) {
          if (inner === scope) inner = new Map(scope);
          inner.set(aname === 'xmlns' ? '' : aname.slice(6), value.trim());
          continue;
        }
        const key = norm(splitName(aname).local);
        if (!attrs.has(key)) attrs.set(key, value);
      }
      const { prefix, local } = splitName(qname);
      const ns = inner.get(prefix ?? '') || null;
      const childNodes = node[qname];
      let text = '';
      if (Array.isArray(childNodes)) {
        for (const c of childNodes as FxpNode[]) {
          if (c !== null && typeof c === 'object' && '#text' in c) text += String(c['#text']);
        }
      }
      out.push({
        local,
        key: norm(local),
        prefix,
        ns,
        attrs,
        children: buildElements(childNodes, inner, depth + 1),
        text: decodeEntities(text).trim(),
      });
    }
  }
  return out;
}

function readXml(xml: string): XmlElement {
  if (typeof xml !== 'string' || xml.trim() === '') throw new ParseError('empty metadata');
  if (xml.length > MAX_XML_CHARS) throw new ParseError('metadata too large');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new ParseError('DTD not allowed in metadata');
  let nodes: unknown;
  try {
    nodes = parser.parse(xml.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ParseError(`metadata is not XML: ${(err as Error).message}`);
  }
  const roots = buildElements(nodes, new Map(), 0);
  const root = roots[0];
  if (root === undefined) throw new ParseError('metadata is not XML');
  return root;
}

/** Everything below `el` that belongs to the recording model (extension subtrees excluded), depth first. */
function* descendants(el: XmlElement, ours: (e: XmlElement) => boolean): Generator<XmlElement> {
  for (const child of el.children) {
    if (!ours(child)) continue;
    yield child;
    yield* descendants(child, ours);
  }
}

function* allElements(el: XmlElement): Generator<XmlElement> {
  for (const child of el.children) {
    yield child;
    yield* allElements(child);
  }
}

function attr(el: XmlElement, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = el.attrs.get(n);
    if (v !== undefined) return v.trim();
  }
  return undefined;
}

function childText(el: XmlElement, key: string, ours: (e: XmlElement) => boolean): string | undefined {
  const c = el.children.find((x) => x.key === key && ours(x));
  return c === undefined ? undefined : c.text;
}

/** Stream ids inside a `<send>`/`<recv>`: its text (RFC 7865, draft) or its `<id>` children (BroadWorks). */
function idsOf(el: XmlElement): string[] {
  const fromChildren = el.children.filter((c) => c.key === 'id').flatMap((c) => c.text.split(/\s+/));
  return [...el.text.split(/\s+/), ...fromChildren].filter((s) => s !== '');
}

function pushUnique(list: string[], values: string[]): void {
  for (const v of values) if (!list.includes(v)) list.push(v);
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
 * (`recording`, `recording_metadata`). Missing pieces are left out rather than refused: metadata is
 * advisory and the call is recorded either way.
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
  };
  const sessions = new Map<string, MetadataSession>();
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
      if (ids.length > 0) pushUnique(streamsOf(participantId)[c.key], ids);
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
          if (c.key === 'sipsessionid' && c.text !== '') pushUnique(s.sipSessionIds, [c.text]);
          if (c.key === 'starttime' && c.text !== '') s.startTime = c.text;
          if (c.key === 'stoptime' && c.text !== '') s.stopTime = c.text;
        }
        // Pre-RFC drafts put the association times on the session itself.
        associationTimes(el, s);
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
  return md;
}

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
