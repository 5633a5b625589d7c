/**
 * SIPREC multipart bodies (Content-Type, parts, the SDP and rs-metadata in them): table-driven
 * over every variant in shared/reference/SIPREC-NOTES.md. Fixtures: test/helpers/siprec-fixtures.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError, UnsupportedError } from '../../src/errors.js';
import {
  UnsupportedBodyError,
  extractMetadataXml,
  extractSiprecBody,
  parseContentType,
  parseMultipart,
} from '../../src/sip/app/multipart.js';
import { parseOffer } from '../../src/sip/app/sdp.js';
import { parseMetadata } from '../../src/sip/app/metadata.js';
import { BODIES, fixture, toCrlf, toLf } from '../helpers/siprec-fixtures.js';

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
