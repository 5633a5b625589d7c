/**
 * A small namespace-aware XML tree for the recording metadata (src/sip/app/metadata.ts): every
 * element carries its local name as written, a normalised key (lower case, no `-`/`_`), its prefix and
 * its resolved namespace, so callers match elements by local name whatever prefix a vendor uses.
 *
 * Safety: no DTD, no entity expansion. fast-xml-parser runs with entity processing off; only the five
 * predefined entities and character references are decoded here, and a document with a DOCTYPE is refused.
 */
import { XMLParser } from 'fast-xml-parser';
import { ParseError } from '../../errors.js';

/** Larger than any real metadata document (they are a few kB); bounds parsing work on hostile input. */
const MAX_XML_CHARS = 1_000_000;

export interface XmlElement {
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
export function norm(name: string): string {
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
export function readXml(xml: string): XmlElement {
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
export function* descendants(el: XmlElement, ours: (e: XmlElement) => boolean): Generator<XmlElement> {
  for (const child of el.children) {
    if (!ours(child)) continue;
    yield child;
    yield* descendants(child, ours);
  }
}

export function* allElements(el: XmlElement): Generator<XmlElement> {
  for (const child of el.children) {
    yield child;
    yield* allElements(child);
  }
}

export function attr(el: XmlElement, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = el.attrs.get(n);
    if (v !== undefined) return v.trim();
  }
  return undefined;
}

export function childText(el: XmlElement, key: string, ours: (e: XmlElement) => boolean): string | undefined {
  const c = el.children.find((x) => x.key === key && ours(x));
  return c === undefined ? undefined : c.text;
}
