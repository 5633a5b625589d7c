/**
 * SIPREC body, SDP and rs-metadata parsers under a seeded fuzz: random and mutated real inputs
 * (test/helpers/siprec-fixtures.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError, UnsupportedError } from '../../src/errors.js';
import { extractSiprecBody, parseContentType, parseMultipart } from '../../src/sip/app/multipart.js';
import { buildAnswer, chooseCodec, parseOffer } from '../../src/sip/app/sdp.js';
import { newLocalKey } from '../../src/sip/app/sdes.js';
import { mergeMetadata, parseMetadata, participantsForLabels } from '../../src/sip/app/metadata.js';
import type { RecordingMetadata } from '../../src/sip/app/metadata.js';
import { BODIES, fixture, toCrlf, toLf } from '../helpers/siprec-fixtures.js';
import { mulberry32 } from '../helpers/prng.js';

// ---------------------------------------------------------------------------------------------------------
// Fuzz: random and mutated real inputs. Every call must return or throw ParseError/UnsupportedError.

class Fuzzer {
  private readonly rnd: () => number;
  constructor(seed: number) {
    this.rnd = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  randomText(tokens: readonly string[], maxTokens: number): string {
    let s = '';
    const n = this.int(maxTokens);
    for (let i = 0; i < n; i++)
      s += this.rnd() < 0.7 ? this.pick(tokens) : String.fromCharCode(this.int(0x250));
    return s;
  }
  mutate(input: string, tokens: readonly string[]): string {
    let s = input;
    const rounds = 1 + this.int(6);
    for (let r = 0; r < rounds; r++) {
      const at = this.int(s.length + 1);
      switch (this.int(8)) {
        case 0: // delete a slice
          s = s.slice(0, at) + s.slice(at + this.int(40));
          break;
        case 1: // insert a token
          s = s.slice(0, at) + this.pick(tokens) + s.slice(at);
          break;
        case 2: // replace a character
          s = s.slice(0, at) + String.fromCharCode(this.int(0x80)) + s.slice(at + 1);
          break;
        case 3: // duplicate a slice
          s = s.slice(0, at) + s.slice(at, at + this.int(200)) + s.slice(at);
          break;
        case 4: // truncate
          s = s.slice(0, at);
          break;
        case 5: {
          // swap two lines
          const ls = s.split('\n');
          const i = this.int(ls.length);
          const j = this.int(ls.length);
          [ls[i], ls[j]] = [ls[j] as string, ls[i] as string];
          s = ls.join('\n');
          break;
        }
        case 6: // line ending change
          s = this.rnd() < 0.5 ? toLf(s) : toCrlf(s);
          break;
        default: // random junk
          s = s.slice(0, at) + this.randomText(tokens, 8) + s.slice(at);
      }
    }
    return s;
  }
}

function expectContained(label: string, input: unknown, fn: () => void): void {
  const started = performance.now();
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ParseError || err instanceof UnsupportedError)) {
      assert.fail(`${label}: ${String(err)} for input ${JSON.stringify(input).slice(0, 600)}`);
    }
  }
  const ms = performance.now() - started;
  if (ms > 1000)
    assert.fail(`${label}: ${ms.toFixed(0)} ms for input ${JSON.stringify(input).slice(0, 600)}`);
}

const MP_TOKENS = [
  '\r\n',
  '\n',
  '\r',
  '--',
  '--b',
  '--b--',
  'Content-Type: application/sdp',
  'c: application/rs-metadata+xml',
  'Content-Disposition: recording-session',
  ': ',
  ';',
  '"',
  ' ',
  '\t',
  'v=0',
  '<recording/>',
  'boundary=',
];
const SDP_TOKENS = [
  '\r\n',
  '\n',
  'v=0',
  'o=- 1 1 IN IP4 1.2.3.4',
  'c=IN IP4 10.0.0.1',
  'c=IN IP6 ::1',
  't=0 0',
  'm=audio ',
  'm=video 0 RTP/AVP 96',
  ' RTP/AVP ',
  ' RTP/SAVP ',
  ' RTP/SAVPF ',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:',
  'a=crypto:2 AEAD_AES_256_GCM inline:',
  'jvH9tvUwJ6KIZNfOkvib3W0KGoYEgBrd1BchPIBf',
  '|2^20|1:4',
  ';inline:',
  ' UNENCRYPTED_SRTCP',
  ' KDR=0',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:97 octet-align=1',
  '0',
  '8',
  '18',
  '101',
  '65535',
  '99999999999999999999',
  'a=rtpmap:',
  ' PCMU/8000',
  ' telephone-event/8000',
  'a=label:',
  'a=sendonly',
  'a=inactive',
  'a=fmtp:101 0-15',
  ' ',
  '/',
  ':',
];
const XML_TOKENS = [
  '<recording xmlns="urn:ietf:params:xml:ns:recording:1">',
  '</recording>',
  '<tns:recording xmlns:tns="urn:ietf:params:xml:ns:recording">',
  '<recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">',
  '<participant participant_id="p">',
  '</participant>',
  '<stream stream_id="s" session_id="x">',
  '</stream>',
  '<label>1</label>',
  '<participantstreamassoc participant_id="p">',
  '<send>s</send>',
  '<send><id>s</id></send>',
  '<callData><From>a</From></callData>',
  '<datamode>partial</datamode>',
  '<nameID aor="sip:a@b"><name>n</name></nameID>',
  '<![CDATA[',
  ']]>',
  '<!--',
  '-->',
  '<?xml version="1.0"?>',
  '&amp;',
  '&#x10FFFF;',
  '&#55296;',
  '&bogus;',
  '"',
  "'",
  '<',
  '>',
  '/>',
  'xmlns:a="u"',
  '<a:b>',
  '</a:b>',
  '=',
  ' ',
];

describe('fuzz', () => {
  const mpSeeds = BODIES.map((b) => ({ ct: b.contentType, body: fixture(b.file) }));
  const sdpSeeds = [
    ...BODIES.map((b) => extractSiprecBody(b.contentType, fixture(b.file)).sdp),
    ...[
      'cisco-cube.sdp',
      'three-streams.sdp',
      'g729-only.sdp',
      'srtp.sdp',
      'metaswitch-mixed-nodir.sdp',
      'sbc-srtp-codecs.sdp',
    ].map(fixture),
  ];
  const xmlSeeds = [
    ...BODIES.map((b) => extractSiprecBody(b.contentType, fixture(b.file)).metadataXml!),
    fixture('partial-update.xml'),
  ];

  it('multipart: 12,000 random and mutated bodies and content types', () => {
    const f = new Fuzzer(0x5eed01);
    const cts = [
      ...mpSeeds.map((s) => s.ct),
      'multipart/mixed;boundary=b',
      'application/sdp',
      'text/plain',
      '',
    ];
    for (let i = 0; i < 12_000; i++) {
      const seed = f.pick(mpSeeds);
      const body = i % 4 === 0 ? f.randomText(MP_TOKENS, 60) : f.mutate(seed.body, MP_TOKENS);
      const ct = f.int(5) === 0 ? f.mutate(f.pick(cts), MP_TOKENS) : i % 4 === 0 ? f.pick(cts) : seed.ct;
      expectContained('parseContentType', ct, () => parseContentType(ct));
      expectContained('parseMultipart', { ct, body }, () => {
        for (const part of parseMultipart(ct, body)) assert.ok(body.includes(part.body));
      });
      expectContained('extractSiprecBody', { ct, body }, () => {
        const got = extractSiprecBody(f.int(10) === 0 ? undefined : ct, body);
        assert.equal(typeof got.sdp, 'string');
      });
    }
  });

  it('sdp: 10,000 random and mutated offers, answered when parsed', () => {
    const f = new Fuzzer(0x5eed02);
    for (let i = 0; i < 10_000; i++) {
      const sdp = i % 3 === 0 ? f.randomText(SDP_TOKENS, 80) : f.mutate(f.pick(sdpSeeds), SDP_TOKENS);
      expectContained('parseOffer/chooseCodec/buildAnswer', sdp, () => {
        const offer = parseOffer(sdp);
        const streams = offer.map((o) => {
          const choice = chooseCodec(o);
          return {
            index: o.index,
            port: f.int(3) === 0 ? 0 : 10000 + o.index * 2,
            choice,
            localKey: choice?.crypto ? newLocalKey(choice.crypto.suite) : null,
          };
        });
        const answer = buildAnswer(sdp, streams, '192.0.2.1', i);
        assert.equal(parseOffer(answer).length, offer.length, 'answer has the offer’s m-lines');
      });
    }
  });

  it('metadata: 10,000 random and mutated documents, merged and mapped when parsed', () => {
    const f = new Fuzzer(0x5eed03);
    let previous: RecordingMetadata | null = null;
    for (let i = 0; i < 10_000; i++) {
      const xml = i % 3 === 0 ? f.randomText(XML_TOKENS, 60) : f.mutate(f.pick(xmlSeeds), XML_TOKENS);
      expectContained('parseMetadata/mergeMetadata/participantsForLabels', xml, () => {
        const m = parseMetadata(xml);
        previous = mergeMetadata(previous, m);
        participantsForLabels(previous);
        participantsForLabels(m);
      });
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});
