/**
 * SIPREC body, SDP and rs-metadata parsers: table-driven over every variant in
 * shared/reference/SIPREC-NOTES.md, plus a seeded fuzz test per parser.
 * Fixtures: test/fixtures/siprec/ (the OpenSIPS bodies are byte-exact from the captures).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ParseError, UnsupportedError } from '../../src/errors.js';
import {
  UnsupportedBodyError,
  extractMetadataXml,
  extractSiprecBody,
  parseContentType,
  parseMultipart,
} from '../../src/sip/app/multipart.js';
import { buildAnswer, chooseCodec, parseOffer } from '../../src/sip/app/sdp.js';
import { newLocalKey } from '../../src/sip/app/sdes.js';
import type { AnswerStream, OfferedStream } from '../../src/sip/app/sdp.js';
import { mergeMetadata, parseMetadata, participantsForLabels } from '../../src/sip/app/metadata.js';
import type { RecordingMetadata } from '../../src/sip/app/metadata.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/siprec/${name}`, import.meta.url), 'utf8');

const toLf = (s: string): string => s.replace(/\r\n/g, '\n');
const toCrlf = (s: string): string => toLf(s).replace(/\n/g, '\r\n');

/** Every SIPREC multipart body we hold, with the Content-Type header it came with. */
const BODIES = [
  {
    name: 'OpenSIPS 3.4 initial INVITE (capture)',
    file: 'opensips-3.4-invite.body',
    contentType: 'multipart/mixed;boundary=OSS-unique-boundary-42',
    otherParts: [] as string[],
  },
  {
    name: 'OpenSIPS 3.4 pause re-INVITE (capture)',
    file: 'opensips-3.4-pause-reinvite.body',
    contentType: 'multipart/mixed;boundary=OSS-unique-boundary-42',
    otherParts: [],
  },
  {
    name: 'Avaya SBCE: metadata first, quoted boundary after a space, dataMode',
    file: 'avaya-sbce.body',
    contentType: 'multipart/mixed; boundary="avaya_sbce_8d2f1e"',
    otherParts: [],
  },
  {
    name: 'Cisco: application/gtd part, session;handling=required, mixed-case type',
    file: 'cisco-gtd.body',
    contentType: 'Multipart/Mixed ; boundary=uniqueBoundary',
    otherParts: ['application/gtd'],
  },
  {
    name: 'Oracle/Acme draft: bare LF, compact c:, rs-metadata without +xml, blank lines in XML',
    file: 'oracle-draft-lf.body',
    contentType: 'multipart/mixed;boundary=unique-boundary-1',
    otherParts: [],
  },
  {
    name: 'Ribbon: boundary not the last parameter, preamble and epilogue',
    file: 'ribbon.body',
    contentType: 'multipart/mixed; boundary=sonus-content-delim; charset=UTF-8',
    otherParts: [],
  },
  {
    name: 'BroadWorks: lower-case headers without space, no close delimiter, bare LF',
    file: 'broadworks-lf.body',
    contentType: 'multipart/mixed;boundary=BroadWorksBoundary_0',
    otherParts: [],
  },
];

describe('parseContentType', () => {
  const cases: [string, string, Record<string, string>][] = [
    ['application/sdp', 'application/sdp', {}],
    [
      'multipart/mixed;boundary=OSS-unique-boundary-42',
      'multipart/mixed',
      { boundary: 'OSS-unique-boundary-42' },
    ],
    ['multipart/mixed; boundary="a b;c"', 'multipart/mixed', { boundary: 'a b;c' }],
    [
      'Multipart/MIXED ;  Boundary = "xyz" ; charset=utf-8',
      'multipart/mixed',
      { boundary: 'xyz', charset: 'utf-8' },
    ],
    [
      'multipart/mixed; charset=utf-8; boundary=unique',
      'multipart/mixed',
      { charset: 'utf-8', boundary: 'unique' },
    ],
    ['multipart/mixed; boundary="q\\"uote"', 'multipart/mixed', { boundary: 'q"uote' }],
    ['multipart/mixed; boundary="unterminated', 'multipart/mixed', { boundary: 'unterminated' }],
    ['session;handling=required', 'session', { handling: 'required' }],
    ['recording-session', 'recording-session', {}],
    ['', '', {}],
    ['text/plain; flag', 'text/plain', { flag: '' }],
  ];
  for (const [input, type, params] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(parseContentType(input), { type, params }));
  }
});

describe('parseMultipart', () => {
  it('splits the OpenSIPS capture into exactly its two parts', () => {
    const parts = parseMultipart(BODIES[0]!.contentType, fixture('opensips-3.4-invite.body'));
    assert.equal(parts.length, 2);
    assert.equal(parts[0]!.contentType, 'application/sdp');
    assert.equal(parts[0]!.disposition, null);
    assert.ok(parts[0]!.body.startsWith('v=0\r\n'));
    assert.ok(parts[0]!.body.endsWith('a=rtcp:30081\r\n'), 'the CRLF before the delimiter is not content');
    assert.equal(parts[1]!.contentType, 'application/rs-metadata+xml');
    assert.equal(parts[1]!.disposition, 'recording-session');
    assert.deepEqual(parts[1]!.headers, {
      'content-type': 'application/rs-metadata+xml',
      'content-disposition': 'recording-session',
    });
    assert.ok(parts[1]!.body.endsWith('</recording>'));
  });

  const variants: {
    name: string;
    contentType: string;
    body: string;
    expect: [string, string | null, string][];
  }[] = [
    {
      name: 'CRLF, preamble and epilogue',
      contentType: 'multipart/mixed;boundary=b1',
      body: 'preamble\r\n--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b1--\r\nepilogue\r\n--b1\r\nx',
      expect: [['application/sdp', null, 'v=0\r\n']],
    },
    {
      name: 'bare LF',
      contentType: 'multipart/mixed; boundary="b1"',
      body: '--b1\nContent-Type: application/sdp\n\nv=0\n--b1\nContent-Type: text/x\n\nhello\n--b1--\n',
      expect: [
        ['application/sdp', null, 'v=0'],
        ['text/x', null, 'hello'],
      ],
    },
    {
      name: 'content with several blank lines is not cut (drachtio-srf cuts at the second)',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<a>\r\n\r\n<b/>\r\n\r\n\r\n</a>\r\n--zz--',
      expect: [['application/rs-metadata+xml', null, '<a>\r\n\r\n<b/>\r\n\r\n\r\n</a>']],
    },
    {
      name: 'missing close delimiter keeps the last part',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 1 RTP/AVP 0\r\n',
      expect: [['application/sdp', null, 'v=0\r\nm=audio 1 RTP/AVP 0\r\n']],
    },
    {
      name: 'compact c:, header case, folded header, transport padding after the delimiter',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz  \r\nc : Application/SDP\r\nCONTENT-DISPOSITION: Session;\r\n handling=required\r\n\r\nv=0\r\n--zz-- \r\n',
      expect: [['application/sdp', 'session', 'v=0']],
    },
    {
      name: 'a line that only starts with the boundary is content',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz\r\nContent-Type: text/plain\r\n\r\n--zzz is not a delimiter\r\n--zz--',
      expect: [['text/plain', null, '--zzz is not a delimiter']],
    },
    {
      name: 'part without headers defaults to text/plain; no blank line after headers',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz\r\n\r\nraw\r\n--zz\r\nContent-Type: application/sdp\r\nv=0\r\n--zz--',
      expect: [
        ['text/plain', null, 'raw'],
        ['application/sdp', null, 'v=0'],
      ],
    },
    {
      name: 'empty part',
      contentType: 'multipart/mixed;boundary=zz',
      body: '--zz\r\n--zz\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--zz--',
      expect: [
        ['text/plain', null, ''],
        ['application/sdp', null, 'v=0'],
      ],
    },
  ];
  for (const v of variants) {
    it(v.name, () => {
      const parts = parseMultipart(v.contentType, v.body);
      assert.deepEqual(
        parts.map((p) => [p.contentType, p.disposition, p.body]),
        v.expect,
      );
    });
  }

  it('headers and parameters named __proto__ or constructor are plain data', () => {
    const [part] = parseMultipart(
      'multipart/mixed; constructor=1; __proto__=2; boundary=zz',
      '--zz\r\n__proto__: x\r\nconstructor: y\r\nContent-Type: application/sdp; __proto__=z\r\n\r\nv=0\r\n--zz--',
    );
    assert.equal(part!.headers['__proto__'], 'x');
    assert.equal(part!.headers['constructor'], 'y');
    assert.equal(part!.params['__proto__'], 'z');
    assert.equal(Object.getPrototypeOf(part!.headers), Object.prototype);
    assert.deepEqual(parseContentType('a/b; constructor=1; __proto__=2').params, {
      constructor: '1',
      ['__proto__']: '2',
    });
  });

  const failures: [string, string, string, RegExp][] = [
    ['no boundary', 'multipart/mixed', '--x\r\n\r\nv=0', /no boundary/],
    ['empty boundary', 'multipart/mixed; boundary=""', '--\r\n\r\nv=0', /no boundary/],
    ['boundary not in body', 'multipart/mixed;boundary=abc', 'v=0\r\n', /boundary not found in body/],
    ['only a close delimiter', 'multipart/mixed;boundary=abc', '--abc--\r\n', /no parts/],
    ['not multipart', 'application/sdp', 'v=0', /not a multipart/],
  ];
  for (const [name, ct, body, reason] of failures) {
    it(`throws ParseError: ${name}`, () => {
      assert.throws(
        () => parseMultipart(ct, body),
        (err: unknown) => err instanceof ParseError && reason.test(err.message),
      );
    });
  }
});

describe('extractSiprecBody', () => {
  for (const b of BODIES) {
    const raw = fixture(b.file);
    for (const [ending, body] of [
      ['as captured', raw],
      ['CRLF', toCrlf(raw)],
      ['bare LF', toLf(raw)],
    ] as const) {
      it(`${b.name} (${ending})`, () => {
        const got = extractSiprecBody(b.contentType, body);
        assert.match(got.sdp, /^v=0\r?\n/);
        assert.ok(!got.sdp.includes('--'), 'no delimiter in the SDP');
        assert.ok(got.metadataXml !== null);
        assert.match(got.metadataXml, /^<\?xml/);
        assert.match(
          got.metadataXml.trimEnd(),
          /<\/(\w+:)?recording(_metadata)?>$/,
          'the whole XML, not cut',
        );
        assert.deepEqual(got.otherParts, b.otherParts);
        assert.ok(parseOffer(got.sdp).length > 0);
        parseMetadata(got.metadataXml);
      });
    }
  }

  it('plain application/sdp (Cisco CUBE): no metadata', () => {
    const sdp = fixture('cisco-cube.sdp');
    assert.deepEqual(extractSiprecBody('application/sdp', sdp), { sdp, metadataXml: null, otherParts: [] });
    assert.deepEqual(extractSiprecBody('Application/SDP; charset=utf-8', sdp).metadataXml, null);
  });

  it('no Content-Type but an SDP body is taken as SDP', () => {
    assert.equal(extractSiprecBody(undefined, 'v=0\r\n').sdp, 'v=0\r\n');
  });

  const parseFailures: [string, string | undefined, string, RegExp][] = [
    ['empty body', 'application/sdp', '', /no SDP in request/],
    ['whitespace body', 'multipart/mixed;boundary=x', '\r\n\r\n', /no SDP in request/],
    ['no body, no type', undefined, '', /no SDP in request/],
    [
      'multipart without an SDP part',
      'multipart/mixed;boundary=x',
      '--x\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>\r\n--x--',
      /no SDP part/,
    ],
    [
      'empty SDP part',
      'multipart/mixed;boundary=x',
      '--x\r\nContent-Type: application/sdp\r\n\r\n\r\n--x--',
      /empty SDP/,
    ],
    ['multipart without boundary', 'multipart/mixed', '--x\r\n\r\nv=0', /no boundary/],
  ];
  for (const [name, ct, body, reason] of parseFailures) {
    it(`ParseError: ${name}`, () => {
      assert.throws(
        () => extractSiprecBody(ct, body),
        (err: unknown) => err instanceof ParseError && reason.test(err.message),
      );
    });
  }

  const unsupported: [string, string | undefined, string][] = [
    ['text/plain', 'text/plain', 'hello'],
    ['application/json', 'application/json', '{}'],
    ['metadata alone', 'application/rs-metadata+xml', '<recording/>'],
    ['no Content-Type, not SDP', undefined, '<xml/>'],
  ];
  for (const [name, ct, body] of unsupported) {
    it(`UnsupportedBodyError (415): ${name}`, () => {
      assert.throws(
        () => extractSiprecBody(ct, body),
        (err: unknown) =>
          err instanceof UnsupportedBodyError &&
          err instanceof UnsupportedError &&
          err.code === 'ERR_UNSUPPORTED' &&
          err.accept.join(',') === 'application/sdp,multipart/mixed',
      );
    });
  }

  it('extractMetadataXml: metadata alone (UPDATE), inside multipart, or none', () => {
    assert.equal(extractMetadataXml('application/rs-metadata+xml', '<recording/>'), '<recording/>');
    assert.match(extractMetadataXml(BODIES[0]!.contentType, fixture(BODIES[0]!.file)) ?? '', /<recording /);
    assert.equal(extractMetadataXml('application/sdp', 'v=0'), null);
    assert.equal(extractMetadataXml(undefined, ''), null);
  });
});

describe('parseOffer', () => {
  const opensipsSdp = extractSiprecBody(BODIES[0]!.contentType, fixture(BODIES[0]!.file)).sdp;
  const cases: { name: string; sdp: string; expect: OfferedStream[] }[] = [
    {
      name: 'OpenSIPS: two legs in different codecs, labels 1 and 0',
      sdp: opensipsSdp,
      expect: [
        {
          index: 0,
          label: '1',
          port: 30068,
          protocol: 'RTP/AVP',
          direction: 'sendonly',
          connection: '127.0.0.1',
          codecs: [{ pt: 8, name: 'PCMA', rate: 8000 }],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
        {
          index: 1,
          label: '0',
          port: 30080,
          protocol: 'RTP/AVP',
          direction: 'sendonly',
          connection: '127.0.0.1',
          codecs: [{ pt: 0, name: 'PCMU', rate: 8000 }],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
      ],
    },
    {
      name: 'three m-lines, one inactive, one disabled, no session c=',
      sdp: fixture('three-streams.sdp'),
      expect: [
        {
          index: 0,
          label: '1',
          port: 40000,
          protocol: 'RTP/AVP',
          direction: 'sendonly',
          connection: '192.0.2.90',
          codecs: [{ pt: 0, name: 'PCMU', rate: 8000 }],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
        {
          index: 1,
          label: '2',
          port: 40002,
          protocol: 'RTP/AVP',
          direction: 'inactive',
          connection: '192.0.2.91',
          codecs: [{ pt: 8, name: 'PCMA', rate: 8000 }],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
        {
          index: 2,
          label: '3',
          port: 0,
          protocol: 'RTP/AVP',
          direction: null,
          connection: null,
          codecs: [{ pt: 0, name: 'PCMU', rate: 8000 }],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
      ],
    },
    {
      name: 'single mixed m-line, dynamic PCMU, no direction (Metaswitch)',
      sdp: fixture('metaswitch-mixed-nodir.sdp'),
      expect: [
        {
          index: 0,
          label: 'mixed',
          port: 31000,
          protocol: 'RTP/AVP',
          direction: null,
          connection: '192.0.2.44',
          codecs: [
            { pt: 96, name: 'PCMU', rate: 8000 },
            { pt: 0, name: 'PCMU', rate: 8000 },
          ],
          telephoneEventPt: null,
          crypto: [],
          cryptoRefused: [],
        },
      ],
    },
    {
      name: 'no t=, no c=, session-level direction, static types without rtpmap, large label',
      sdp: 'v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\na=sendonly\nm=audio 5000 RTP/AVP 18 0 8 96 101\na=rtpmap:101 telephone-event/8000\na=label:4294967297\n',
      expect: [
        {
          index: 0,
          label: '4294967297',
          port: 5000,
          protocol: 'RTP/AVP',
          direction: 'sendonly',
          connection: null,
          codecs: [
            { pt: 18, name: 'G729', rate: 8000 },
            { pt: 0, name: 'PCMU', rate: 8000 },
            { pt: 8, name: 'PCMA', rate: 8000 },
            { pt: 101, name: 'telephone-event', rate: 8000 },
          ],
          telephoneEventPt: 101,
          crypto: [],
          cryptoRefused: [],
        },
      ],
    },
    {
      name: 'telephone-event at 8 kHz preferred over 48 kHz',
      sdp: 'v=0\r\nm=audio 5000 RTP/AVP 0 110 101\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:101 telephone-event/8000\r\n',
      expect: [
        {
          index: 0,
          label: null,
          port: 5000,
          protocol: 'RTP/AVP',
          direction: null,
          connection: null,
          codecs: [
            { pt: 0, name: 'PCMU', rate: 8000 },
            { pt: 110, name: 'telephone-event', rate: 48000 },
            { pt: 101, name: 'telephone-event', rate: 8000 },
          ],
          telephoneEventPt: 101,
          crypto: [],
          cryptoRefused: [],
        },
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseOffer(c.sdp), c.expect));

  it('labels seen in the wild survive as strings', () => {
    const labels = ['1', '0', 'a_leg', '10', '20', '3148519237', '007'];
    const sdp = `v=0\r\nc=IN IP4 192.0.2.1\r\n${labels.map((l, i) => `m=audio ${2000 + 2 * i} RTP/AVP 0\r\na=label:${l}\r\n`).join('')}`;
    assert.deepEqual(
      parseOffer(sdp).map((s) => s.label),
      labels,
    );
  });

  const failures: [string, string][] = [
    ['empty', ''],
    ['garbage', 'hello world\r\nthis is not sdp'],
    ['no m-line', 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n'],
    ['unreadable m-line', 'v=0\r\nm=audio x RTP/AVP 0\r\n'],
    ['port out of range', 'v=0\r\nm=audio 70000 RTP/AVP 0\r\n'],
  ];
  for (const [name, sdp] of failures) {
    it(`ParseError: ${name}`, () => assert.throws(() => parseOffer(sdp), ParseError));
  }
});

describe('chooseCodec', () => {
  /** The chosen payload types as "pt:codec/clock", or null when declined. */
  const one = (sdp: string) => {
    const c = chooseCodec(parseOffer(sdp)[0]!);
    return c === null ? null : c.payloads.map((p) => `${p.pt}:${p.spec.codec}/${p.spec.clockRate}`);
  };
  const cases: [string, string, string[] | null][] = [
    ['PCMA only', 'v=0\r\nm=audio 1 RTP/AVP 8\r\n', ['8:PCMA/8000']],
    ['PCMU before PCMA', 'v=0\r\nm=audio 1 RTP/AVP 0 8\r\n', ['0:PCMU/8000', '8:PCMA/8000']],
    ['PCMA before PCMU', 'v=0\r\nm=audio 1 RTP/AVP 8 0\r\n', ['8:PCMA/8000', '0:PCMU/8000']],
    [
      'G.729 first, PCMA second: both, in order',
      'v=0\r\nm=audio 1 RTP/AVP 18 8\r\n',
      ['18:G729/8000', '8:PCMA/8000'],
    ],
    ['dynamic PCMU', 'v=0\r\nm=audio 1 RTP/AVP 97\r\na=rtpmap:97 pcmu/8000\r\n', ['97:PCMU/8000']],
    ['G.729 only', fixture('g729-only.sdp'), ['18:G729/8000']],
    ['SRTP (RTP/SAVP) whose only a=crypto has a 32-byte MKI → null', fixture('srtp.sdp'), null],
    [
      'SRTP (RTP/SAVP) with a usable a=crypto',
      fixture('srtp.sdp').replace('|1:32', '|1:4'),
      ['0:PCMU/8000', '8:PCMA/8000'],
    ],
    ['RTP/SAVPF without a=crypto → null', 'v=0\r\nm=audio 1 RTP/SAVPF 0\r\n', null],
    ['AVPF is plain RTP', 'v=0\r\nm=audio 1 RTP/AVPF 0\r\n', ['0:PCMU/8000']],
    ['disabled stream (port 0) → null', 'v=0\r\nm=audio 0 RTP/AVP 0\r\n', null],
    [
      'only telephone-event → null',
      'v=0\r\nm=audio 1 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n',
      null,
    ],
    ['PCMU at 16 kHz is not G.711', 'v=0\r\nm=audio 1 RTP/AVP 96\r\na=rtpmap:96 PCMU/16000\r\n', null],
    ['G.723 and GSM only → null', 'v=0\r\nm=audio 1 RTP/AVP 4 3\r\n', null],
  ];
  for (const [name, sdp, expected] of cases) it(name, () => assert.deepEqual(one(sdp), expected));
});

describe('buildAnswer', () => {
  const accept = (offer: OfferedStream[], basePort = 40000): AnswerStream[] =>
    offer.map((o) => ({
      index: o.index,
      port: basePort + 2 * o.index,
      choice: chooseCodec(o),
    }));
  const lines = (sdp: string) => {
    assert.ok(sdp.endsWith('\r\n'));
    assert.ok(!/[^\r]\n/.test(sdp), 'CRLF line endings only');
    return sdp.slice(0, -2).split('\r\n');
  };
  const ORIGIN = /^o=- \d+ 7 IN IP4 192\.0\.2\.1$/;

  const cases: {
    name: string;
    sdp: string;
    streams?: (offer: OfferedStream[]) => AnswerStream[];
    expect: string[];
  }[] = [
    {
      name: 'OpenSIPS capture: PCMA on label 1, PCMU on label 0',
      sdp: extractSiprecBody(BODIES[0]!.contentType, fixture(BODIES[0]!.file)).sdp,
      expect: [
        'm=audio 40000 RTP/AVP 8',
        'a=rtpmap:8 PCMA/8000',
        'a=recvonly',
        'a=label:1',
        'm=audio 40002 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=recvonly',
        'a=label:0',
      ],
    },
    {
      name: 'Cisco CUBE: every decodable codec in the offer order, fmtps echoed, events kept',
      sdp: fixture('cisco-cube.sdp'),
      expect: [1, 2].flatMap((label) => [
        `m=audio ${40000 + 2 * (label - 1)} RTP/AVP 8 0 18 101`,
        'a=rtpmap:8 PCMA/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=rtpmap:18 G729/8000',
        'a=rtpmap:101 telephone-event/8000',
        'a=fmtp:18 annexb=no',
        'a=fmtp:101 0-16',
        'a=recvonly',
        `a=label:${label}`,
      ]),
    },
    {
      name: 'three m-lines: inactive answered inactive, disabled stays port 0 with a valid format',
      sdp: fixture('three-streams.sdp'),
      expect: [
        'm=audio 40000 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=recvonly',
        'a=label:1',
        'm=audio 40002 RTP/AVP 8',
        'a=rtpmap:8 PCMA/8000',
        'a=inactive',
        'a=label:2',
        'm=audio 0 RTP/AVP 0',
        'a=label:3',
      ],
    },
    {
      name: 'declined streams: G.723-only and SAVP without a=crypto get port 0, order kept',
      sdp: 'v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 5000 RTP/AVP 4\r\na=label:x\r\nm=audio 5002 RTP/SAVP 0\r\na=label:y\r\nm=audio 5004 RTP/AVP 0\r\na=label:z\r\n',
      expect: [
        'm=audio 0 RTP/AVP 4',
        'a=label:x',
        'm=audio 0 RTP/SAVP 0',
        'a=label:y',
        'm=audio 40004 RTP/AVP 0',
        'a=rtpmap:0 PCMU/8000',
        'a=recvonly',
        'a=label:z',
      ],
    },
    {
      name: 'a stream the caller leaves out is declined',
      sdp: fixture('three-streams.sdp'),
      streams: (offer) => accept(offer).filter((s) => s.index === 1),
      expect: [
        'm=audio 0 RTP/AVP 0',
        'a=label:1',
        'm=audio 40002 RTP/AVP 8',
        'a=rtpmap:8 PCMA/8000',
        'a=inactive',
        'a=label:2',
        'm=audio 0 RTP/AVP 0',
        'a=label:3',
      ],
    },
    {
      name: 'no direction in the offer → recvonly; dynamic and static PCMU both kept',
      sdp: fixture('metaswitch-mixed-nodir.sdp'),
      expect: [
        'm=audio 40000 RTP/AVP 96 0',
        'a=rtpmap:96 PCMU/8000',
        'a=rtpmap:0 PCMU/8000',
        'a=recvonly',
        'a=label:mixed',
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const offer = parseOffer(c.sdp);
      const answer = buildAnswer(c.sdp, (c.streams ?? accept)(offer), '192.0.2.1', 7);
      const got = lines(answer);
      assert.equal(got[0], 'v=0');
      assert.match(got[1]!, ORIGIN);
      assert.deepEqual(got.slice(2, 5), ['s=-', 'c=IN IP4 192.0.2.1', 't=0 0']);
      assert.deepEqual(got.slice(5), c.expect);
      // The answer is itself valid SDP with the same m-lines in the same order.
      assert.deepEqual(
        parseOffer(answer).map((s) => s.label),
        offer.map((s) => s.label),
      );
    });
  }

  it('o= session id is stable across re-INVITEs and the version is the caller’s', () => {
    const sdp = fixture('cisco-cube.sdp');
    const streams = accept(parseOffer(sdp));
    const o1 = lines(buildAnswer(sdp, streams, '192.0.2.1', 1))[1]!.split(' ');
    const o2 = lines(buildAnswer(sdp, streams, '192.0.2.1', 2))[1]!.split(' ');
    assert.equal(o1[1], o2[1]);
    assert.deepEqual([o1[2], o2[2]], ['1', '2']);
  });

  it('IPv6 address', () => {
    const sdp = fixture('g729-only.sdp').replace('18', '0').replace('G729', 'PCMU');
    const answer = lines(buildAnswer(sdp, accept(parseOffer(sdp)), '2001:db8::1', 1));
    assert.ok(answer.includes('c=IN IP6 2001:db8::1'));
  });
});

describe('parseMetadata', () => {
  const md = (b: (typeof BODIES)[number]) =>
    parseMetadata(extractSiprecBody(b.contentType, fixture(b.file)).metadataXml!);
  const cases: {
    name: string;
    metadata: () => RecordingMetadata;
    dialect: RecordingMetadata['dialect'];
    labels: [string, string | null, string | null, string[]][];
    check?: (m: RecordingMetadata) => void;
  }[] = [
    {
      name: 'OpenSIPS (RFC 7865): labels 1 and 0 reach participants only through participantstreamassoc',
      metadata: () => md(BODIES[0]!),
      dialect: 'rfc7865',
      labels: [
        ['LZ8GZjeiQmWifZpAEQCmRA==', 'sip:sipp@127.0.0.1:25080', 'sipp', ['1']],
        ['TEADwMumSIuskzB8fpiclQ==', 'sip:callee@127.0.0.1:25070', 'callee', ['0']],
      ],
      check: (m) => {
        assert.deepEqual(m.sessions, [
          {
            id: 'B2Nvci62QgCqSBefUH440Q==',
            sipSessionIds: ['1-5991@127.0.0.1'],
            startTime: '2026-11-22T03:33:53+0000',
          },
        ]);
        assert.deepEqual(m.streams, [
          { id: 'VKrCNPDcSxyxiAMVBY1BVw==', label: '1', sessionId: 'B2Nvci62QgCqSBefUH440Q==' },
          { id: 'I2fOBStYTDO20dMLnCoI9Q==', label: '0', sessionId: 'B2Nvci62QgCqSBefUH440Q==' },
        ]);
        assert.equal(m.participants[0]!.associateTime, '2026-11-22T03:33:53+0000');
      },
    },
    {
      name: 'Avaya: dataMode camel case, crossed labels, extension elements (even one named participant)',
      metadata: () => md(BODIES[2]!),
      dialect: 'rfc7865',
      labels: [
        ['srfBElmCRp2QB23b7Mpk0w==', 'sip:+14085551212@example.com', 'Alice Agent', ['2']],
        ['zSfPoSvdSDCmU3A3TRDxAw==', 'sip:+14155550100@carrier.example.net', 'Bob & Co', ['1']],
      ],
      check: (m) => assert.equal(m.dataMode, 'complete'),
    },
    {
      name: 'Cisco: urn:uuid ids, no names',
      metadata: () => md(BODIES[3]!),
      dialect: 'rfc7865',
      labels: [
        ['urn:uuid:9a0c2a4c-1d3b-11ee-be56-0242ac120002', 'sip:4085551212@192.0.2.20', null, ['10']],
        ['urn:uuid:9a0c2ea2-1d3b-11ee-be56-0242ac120002', 'sip:5551000@192.0.2.20', null, ['20']],
      ],
    },
    {
      name: 'Oracle/Acme pre-RFC draft: id=/session= attributes, <send> inside <participant>',
      metadata: () => md(BODIES[4]!),
      dialect: 'draft',
      labels: [
        ['cZQKTn+7TJOgq9gYt4GzHw==', 'sip:alice@atlanta.example.com', 'Alice', ['b_leg']],
        ['Gb8L5rWOQeOCXZTPVWTcSw==', 'sip:bob@biloxi.example.com', 'Bob', ['a_leg']],
      ],
      check: (m) => {
        assert.deepEqual(m.streams[0], {
          id: 'vbTsTRV0SCiUcfxDvyT5nA==',
          label: 'a_leg',
          sessionId: '0PWpa0hmRD2hNM/eXs5CkA==',
        });
        assert.equal(m.sessions[0]!.startTime, '2023-11-02T16:02:11');
        assert.equal(m.participants[1]!.associateTime, '2023-11-02T16:02:11');
      },
    },
    {
      name: 'Ribbon/Sonus: tns: prefix everywhere, hex ids, callData extension',
      metadata: () => md(BODIES[5]!),
      dialect: 'ribbon',
      labels: [
        ['1f2e3d4c5b6a79881f2e3d4c5b6a7988', 'sip:+12125550001@203.0.113.7', '+12125550001', ['3148519237']],
        ['2f2e3d4c5b6a79881f2e3d4c5b6a7988', 'sip:+13105550002@198.51.100.9', '+13105550002', ['3148519238']],
      ],
      check: (m) =>
        assert.deepEqual(m.extensions, {
          gcid: '559922112',
          from: '"Caller" <sip:+12125550001@203.0.113.7>;tag=gK0a1b2c',
          to: '<sip:+13105550002@198.51.100.9>',
          callId: '2a1b0c9d8e7f@203.0.113.7',
        }),
    },
    {
      name: 'BroadWorks: recording_metadata root, <send><id>, one mixed stream',
      metadata: () => md(BODIES[6]!),
      dialect: 'broadworks',
      labels: [
        ['ZAAdDhsAAj0gvnVQ-p1', 'sip:2405550111@as.example.com', 'Carol Customer', ['1']],
        ['ZAAdDhsAAj0gvnVQ-p2', 'sip:2405550122@as.example.com', 'Dave Desk', ['1']],
      ],
      check: (m) =>
        assert.deepEqual(m.sessions[0]!.sipSessionIds, ['BW1452121110311251-1318392367@10.0.0.5']),
    },
    {
      name: 'another prefix bound to the RFC namespace, extension subtree in a foreign default namespace',
      metadata: () =>
        parseMetadata(
          `<r:recording xmlns:r="urn:ietf:params:xml:ns:recording:1"><r:datamode>partial</r:datamode>` +
            `<r:participant r:participant_id="p1"><r:nameID aor="sip:a@x"/></r:participant>` +
            `<ext xmlns="urn:vendor:x"><participant participant_id="p2"/><stream stream_id="s9"><label>9</label></stream></ext>` +
            `<r:stream stream_id="s1"><r:label>L1</r:label></r:stream>` +
            `<r:participantstreamassoc participant_id="p1"><r:send> s1 </r:send></r:participantstreamassoc></r:recording>`,
        ),
      dialect: 'rfc7865',
      labels: [['p1', 'sip:a@x', null, ['L1']]],
      check: (m) => assert.equal(m.dataMode, 'partial'),
    },
    {
      name: 'no namespace, empty ids, participant only in participantstreamassoc',
      metadata: () =>
        parseMetadata(
          '<recording><participant participant_id=""><nameID aor="sip:e@x"><name>E</name></nameID></participant>' +
            '<stream stream_id=""><label>0</label></stream><stream stream_id="s2"><label>7</label></stream>' +
            '<participantstreamassoc participant_id=""><send></send><send/><send>nope</send><send></send></participantstreamassoc>' +
            '<participantstreamassoc participant_id="ghost"><send>s2</send></participantstreamassoc></recording>',
        ),
      dialect: 'unknown',
      labels: [
        ['', 'sip:e@x', 'E', []],
        ['ghost', null, null, ['7']],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = c.metadata();
      assert.equal(m.dialect, c.dialect);
      assert.deepEqual(
        participantsForLabels(m).map((p) => [p.participantId, p.aor, p.name, p.sendsLabels]),
        c.labels,
      );
      c.check?.(m);
    });
  }

  const failures: [string, string][] = [
    ['empty', ''],
    ['not XML', 'hello world'],
    ['JSON', '{"recording": {}}'],
    ['unrecognised root', '<?xml version="1.0"?><html><body/></html>'],
    [
      'DTD / entity expansion refused',
      '<!DOCTYPE recording [<!ENTITY a "aaaaaaaa">]><recording>&a;&a;</recording>',
    ],
    ['prototype pollution attempt', '<recording><__proto__><polluted>1</polluted></__proto__></recording>'],
    ['too deep', `${'<a>'.repeat(500)}${'</a>'.repeat(500)}`],
  ];
  for (const [name, xml] of failures) {
    it(`ParseError: ${name}`, () => assert.throws(() => parseMetadata(xml), ParseError));
  }
  it('prototype stays clean', () => assert.equal(({} as Record<string, unknown>)['polluted'], undefined));
});

describe('mergeMetadata', () => {
  const base = () =>
    parseMetadata(extractSiprecBody(BODIES[0]!.contentType, fixture(BODIES[0]!.file)).metadataXml!);

  it('null base takes the update', () => {
    const u = base();
    assert.deepEqual(mergeMetadata(null, u), u);
  });

  it('complete replaces everything', () => {
    const other = parseMetadata(
      extractSiprecBody(BODIES[3]!.contentType, fixture(BODIES[3]!.file)).metadataXml!,
    );
    assert.deepEqual(mergeMetadata(base(), other), other);
  });

  it('partial merges by id: stop time, departure, a new participant and stream', () => {
    const b = base();
    const merged = mergeMetadata(b, parseMetadata(fixture('partial-update.xml')));
    assert.equal(merged.dataMode, 'complete');
    assert.deepEqual(merged.sessions, [
      {
        id: 'B2Nvci62QgCqSBefUH440Q==',
        sipSessionIds: ['1-5991@127.0.0.1'],
        startTime: '2026-11-22T03:33:53+0000',
        stopTime: '2026-11-22T03:35:10+0000',
      },
    ]);
    assert.deepEqual(merged.participants[1], {
      id: 'TEADwMumSIuskzB8fpiclQ==',
      aor: 'sip:callee@127.0.0.1:25070',
      name: 'callee',
      associateTime: '2026-11-22T03:33:53+0000',
      disassociateTime: '2026-11-22T03:35:00+0000',
    });
    assert.deepEqual(
      participantsForLabels(merged).map((p) => [p.participantId, p.sendsLabels]),
      [
        ['LZ8GZjeiQmWifZpAEQCmRA==', ['1']],
        ['TEADwMumSIuskzB8fpiclQ==', ['0']],
        ['', ['2']],
      ],
    );
    assert.equal(b.participants.length, 2, 'the base is not modified');
  });

  it('partial participantstreamassoc replaces that participant’s send set', () => {
    const update = parseMetadata(
      '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>' +
        '<participantstreamassoc participant_id="LZ8GZjeiQmWifZpAEQCmRA=="><send>I2fOBStYTDO20dMLnCoI9Q==</send></participantstreamassoc></recording>',
    );
    const merged = mergeMetadata(base(), update);
    assert.deepEqual(participantsForLabels(merged)[0]!.sendsLabels, ['0']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Fuzz: random and mutated real inputs. Every call must return or throw ParseError/UnsupportedError.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
