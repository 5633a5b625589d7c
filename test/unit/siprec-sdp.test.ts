/**
 * SIPREC SDP offers and answers (parseOffer, chooseCodec, buildAnswer): table-driven over every
 * variant in shared/reference/SIPREC-NOTES.md. Fixtures: test/helpers/siprec-fixtures.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError } from '../../src/errors.js';
import { extractSiprecBody } from '../../src/sip/app/multipart.js';
import { buildAnswer, chooseCodec, parseOffer } from '../../src/sip/app/sdp.js';
import type { AnswerStream, OfferedStream } from '../../src/sip/app/sdp.js';
import { BODIES, fixture } from '../helpers/siprec-fixtures.js';

describe('parseOffer', () => {
  const opensipsSdp = extractSiprecBody(BODIES[0]!.contentType, fixture(BODIES[0]!.file)).sdp;
  const cases: { name: string; sdp: string; expect: OfferedStream[] }[] = [
    {
      name: 'OpenSIPS: two legs in different codecs, labels 1 and 0',
      sdp: opensipsSdp,
      expect: [
        {
          index: 0,
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
          media: 'audio',
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
    ['m=video with an audio payload type is not recorded → null', 'v=0\r\nm=video 1 RTP/AVP 0\r\n', null],
    ['m=text → null', 'v=0\r\nm=text 1 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n', null],
    ['m=AUDIO in capitals is audio', 'v=0\r\nm=AUDIO 1 RTP/AVP 0\r\n', ['0:PCMU/8000']],
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
