/**
 * `npm run fuzz`: random and mutated inputs through every parser of the SIP side (issue 4),
 * seeded from real messages (the OpenSIPS captures, the SIPp scenarios' bodies, the vendor
 * fixtures). Each case must either parse or throw the parser's own error (ParseError, or
 * UnsupportedBodyError for a body type), never anything else, and never take more than a second.
 *
 *   edge SIP parser   parseMessage, frameStream (every split of a stream), header helpers
 *   multipart         parseContentType, parseMultipart, extractSiprecBody, extractMetadataXml
 *   SDP               parseOffer, chooseCodec, buildAnswer, the re-INVITE planner (session.ts)
 *   rs-metadata XML   parseMetadata, mergeMetadata, participantsForLabels
 *
 * Usage: node --import tsx scripts/fuzz-sip.ts [cases-per-parser=30000] [seed=1]
 * Exits 1 with the offending input on the first failure.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParseError } from '../src/errors.js';
import {
  frameStream,
  getHeader,
  parseCSeq,
  parseMessage,
  parseNameAddr,
  parseSipUri,
  parseVia,
} from '../src/sip/edge/message.js';
import {
  UnsupportedBodyError,
  extractMetadataXml,
  extractSiprecBody,
  parseContentType,
  parseMultipart,
} from '../src/sip/app/multipart.js';
import { buildAnswer, chooseCodec, parseOffer } from '../src/sip/app/sdp.js';
import {
  mergeMetadata,
  parseMetadata,
  participantsForLabels,
  type RecordingMetadata,
} from '../src/sip/app/metadata.js';
import { applyPlan, answerOf, planOffer, type Slot } from '../src/sip/app/session.js';
import { mulberry32 } from '../test/helpers/prng.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.argv[2] ?? 30000);
const rnd = mulberry32(Number(process.argv[3] ?? 1));
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)] as T;

const TOKENS = [
  '\r\n',
  '\r\n\r\n',
  '\n',
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  "'",
  ' ',
  '\t',
  '=',
  '/',
  '--',
  '\u0000',
  'é',
  '\uFFFD',
  'SIP/2.0',
  'INVITE',
  'Via',
  'v',
  'l',
  'c',
  'Content-Length: ',
  '0',
  '-1',
  '99999999999',
  '65536',
  'sip:',
  '@',
  '[',
  ']',
  'tag=',
  'branch=z9hG4bK',
  'boundary=',
  'multipart/mixed',
  'application/sdp',
  'application/rs-metadata+xml',
  'm=audio ',
  'RTP/AVP ',
  'RTP/SAVP',
  'a=rtpmap:',
  'a=label:',
  'a=inactive',
  'c=IN IP4 ',
  'o=',
  'PCMU/8000',
  'telephone-event/8000',
  '<recording',
  '</recording>',
  '<participant',
  'participant_id=',
  '<stream',
  'stream_id=',
  '<send>',
  '</send>',
  'xmlns="urn:ietf:params:xml:ns:recording:1"',
  '<![CDATA[',
  ']]>',
  '<!--',
  '&amp;',
  '&#0;',
  '<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>',
  '__proto__',
  'constructor',
];

function mutate(s: string): string {
  const ops = 1 + int(6);
  for (let k = 0; k < ops; k++) {
    const at = int(s.length + 1);
    const op = rnd();
    if (op < 0.35) s = s.slice(0, at) + pick(TOKENS) + s.slice(at);
    else if (op < 0.6) s = s.slice(0, at) + s.slice(at + int(40));
    else if (op < 0.75) s = s.slice(0, at) + String.fromCharCode(int(256)) + s.slice(at + 1);
    else if (op < 0.88) {
      const from = int(s.length + 1);
      s = s.slice(0, at) + s.slice(from, from + int(80)) + s.slice(at);
    } else s = s.slice(0, at) + s.slice(at).replace(/\r\n/, '\n');
  }
  return s;
}
function randomText(): string {
  let s = '';
  const n = int(60);
  for (let i = 0; i < n; i++) s += rnd() < 0.6 ? pick(TOKENS) : String.fromCharCode(32 + int(95));
  return s;
}

// ---- seeds: real messages
const read = (p: string): string => readFileSync(p, 'utf8');
// What OpenSIPS sent to a recorder (copied from the design's reference captures).
const captures = readdirSync(join(ROOT, 'test/fixtures/captures')).map((f) =>
  read(join(ROOT, 'test/fixtures/captures', f)),
);
const scenarioMessages: string[] = [];
for (const f of readdirSync(join(ROOT, 'sip-scenarios')).filter((x) => x.endsWith('.xml'))) {
  for (const m of read(join(ROOT, 'sip-scenarios', f)).matchAll(/<!\[CDATA\[\n([\s\S]*?)\n\s*\]\]>/g)) {
    const msg = (m[1] ?? '')
      .replace(/\[media_port\+?(\d*)\]/g, (_x, d: string) => String(6000 + Number(d || 0)))
      .replace(/\[[a-z_]+(?:-\d+)?\]/g, (x) => (x === '[len]' ? '0' : x === '[local_ip_type]' ? '4' : 'x'))
      .replace(/\n/g, '\r\n');
    const at = msg.indexOf('\r\n\r\n');
    const body = at < 0 ? '' : msg.slice(at + 4);
    scenarioMessages.push(msg.replace(/Content-Length: 0/, `Content-Length: ${Buffer.byteLength(body)}`));
  }
}
const SIP_SEEDS = [...captures, ...scenarioMessages];
const fixtures = join(ROOT, 'test/fixtures/siprec');
const fx = (f: string): string => read(join(fixtures, f));
const BODY_SEEDS: { ct: string; body: string }[] = [];
for (const m of SIP_SEEDS) {
  try {
    const p = parseMessage(m, { ignoreContentLength: true });
    const ct = getHeader(p, 'content-type');
    if (ct && p.body.length > 0) BODY_SEEDS.push({ ct, body: p.body.toString('utf8') });
  } catch {
    // a seed without a usable body
  }
}
for (const f of readdirSync(fixtures).filter((x) => x.endsWith('.body'))) {
  const text = fx(f);
  const b = /boundary="?([^";\r\n]+)/.exec(text);
  BODY_SEEDS.push({ ct: `multipart/mixed;boundary=${b?.[1] ?? 'x'}`, body: text });
}
const SDP_SEEDS: string[] = [];
const XML_SEEDS: string[] = [fx('partial-update.xml')];
for (const s of BODY_SEEDS) {
  try {
    const b = extractSiprecBody(s.ct, s.body);
    SDP_SEEDS.push(b.sdp);
    if (b.metadataXml) XML_SEEDS.push(b.metadataXml);
  } catch {
    // a seed whose boundary guess was wrong
  }
}
for (const f of readdirSync(fixtures).filter((x) => x.endsWith('.sdp'))) SDP_SEEDS.push(fx(f));

// ---- the harness
let cases = 0;
let slowest = 0;
function contained(what: string, input: unknown, fn: () => void, allowed: (e: unknown) => boolean): void {
  cases++;
  const t = performance.now();
  try {
    fn();
  } catch (err) {
    if (!allowed(err)) {
      process.stderr.write(
        `FUZZ FAILURE in ${what}: ${String((err as Error)?.stack ?? err)}\ninput: ${JSON.stringify(input)}\n`,
      );
      process.exit(1);
    }
  }
  const ms = performance.now() - t;
  slowest = Math.max(slowest, ms);
  if (ms > 1000) {
    process.stderr.write(
      `FUZZ FAILURE in ${what}: took ${ms.toFixed(0)} ms\ninput: ${JSON.stringify(input)}\n`,
    );
    process.exit(1);
  }
}
const isParse = (e: unknown): boolean => e instanceof ParseError;
const isBody = (e: unknown): boolean => e instanceof ParseError || e instanceof UnsupportedBodyError;

const t0 = performance.now();
const counts: Record<string, number> = {};
const count = (k: string, n0: number): void => {
  counts[k] = cases - n0;
};

// SIP: whole datagrams, then the same bytes as a TCP stream cut at random points.
let n0 = cases;
let parsedSip = 0;
for (let i = 0; i < N; i++) {
  const text = i % 5 === 0 ? randomText() : mutate(pick(SIP_SEEDS));
  const buf =
    i % 11 === 0 ? Buffer.from(Array.from({ length: int(400) }, () => int(256))) : Buffer.from(text, 'utf8');
  contained(
    'parseMessage',
    text,
    () => {
      const m = parseMessage(buf);
      parsedSip++;
      for (const name of ['via', 'from', 'to', 'contact', 'cseq']) {
        const v = getHeader(m, name);
        if (v === undefined) continue;
        try {
          if (name === 'via') parseVia(v);
          else if (name === 'cseq') parseCSeq(v);
          else parseSipUri(parseNameAddr(v).uri);
        } catch (err) {
          if (!isParse(err)) throw err;
        }
      }
    },
    isParse,
  );
  contained(
    'frameStream',
    text,
    () => {
      // The same bytes twice in a stream, delivered in random slices.
      const stream = Buffer.concat([buf, buf]);
      let pending = Buffer.alloc(0);
      let at = 0;
      let guard = 0;
      while (at < stream.length) {
        const n = 1 + int(stream.length - at);
        pending = Buffer.concat([pending, stream.subarray(at, at + n)]);
        at += n;
        for (;;) {
          if (++guard > 10000) throw new Error('frameStream does not progress');
          const f = frameStream(pending, 64 * 1024);
          if (f.kind === 'incomplete') break;
          if (f.length <= 0) throw new Error('frameStream returned an empty frame');
          pending = pending.subarray(f.length);
        }
      }
    },
    isParse,
  );
}
count('sip', n0);

// Multipart.
n0 = cases;
const CTS = [
  ...BODY_SEEDS.map((s) => s.ct),
  'multipart/mixed; boundary="a b"',
  'application/sdp',
  'text/plain',
  '',
];
for (let i = 0; i < N; i++) {
  const seed = pick(BODY_SEEDS);
  const body = i % 4 === 0 ? randomText() : mutate(seed.body);
  const ct = int(5) === 0 ? mutate(pick(CTS)) : seed.ct;
  contained(
    'parseContentType',
    ct,
    () => void parseContentType(ct),
    () => false,
  );
  contained('parseMultipart', { ct, body }, () => void parseMultipart(ct, body), isBody);
  contained(
    'extractSiprecBody',
    { ct, body },
    () => void extractSiprecBody(int(10) === 0 ? undefined : ct, body),
    isBody,
  );
  contained('extractMetadataXml', { ct, body }, () => void extractMetadataXml(ct, body), isBody);
}
count('multipart', n0);

// SDP, answered, and planned as a re-INVITE against the previous offer's state.
n0 = cases;
let slots: Slot[] = [];
for (let i = 0; i < N; i++) {
  const sdp = i % 3 === 0 ? randomText() : mutate(pick(SDP_SEEDS));
  contained(
    'parseOffer/buildAnswer/planOffer',
    sdp,
    () => {
      const offer = parseOffer(sdp);
      for (const o of offer) chooseCodec(o);
      const plan = planOffer(slots, offer);
      slots = applyPlan(
        slots,
        offer,
        plan,
        plan.add.map((_a, k) => 20000 + 2 * k),
      );
      const answer = buildAnswer(sdp, answerOf(slots), '192.0.2.1', i);
      if (parseOffer(answer).length !== offer.length)
        throw new Error('answer m-line count differs from the offer');
    },
    isParse,
  );
}
count('sdp', n0);

// rs-metadata.
n0 = cases;
let merged: RecordingMetadata | null = null;
for (let i = 0; i < N; i++) {
  const xml = i % 3 === 0 ? randomText() : mutate(pick(XML_SEEDS));
  contained(
    'parseMetadata/mergeMetadata',
    xml,
    () => {
      const m = parseMetadata(xml);
      merged = mergeMetadata(merged, m);
      participantsForLabels(merged);
    },
    isParse,
  );
}
count('xml', n0);
if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('prototype polluted');

const secs = (performance.now() - t0) / 1000;
process.stdout.write(
  `fuzz: ${cases} cases in ${secs.toFixed(1)} s, no failure (sip ${counts.sip}, of which ${parsedSip} datagrams parsed; ` +
    `multipart ${counts.multipart}; sdp ${counts.sdp}; xml ${counts.xml}); slowest case ${slowest.toFixed(1)} ms; ` +
    `seeds: ${SIP_SEEDS.length} messages, ${BODY_SEEDS.length} bodies, ${SDP_SEEDS.length} SDPs, ${XML_SEEDS.length} XML\n`,
);
