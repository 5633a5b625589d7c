/**
 * SIPREC rs-metadata (parseMetadata, mergeMetadata): table-driven over every variant in
 * shared/reference/SIPREC-NOTES.md. Fixtures: test/helpers/siprec-fixtures.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError } from '../../src/errors.js';
import { extractSiprecBody } from '../../src/sip/app/multipart.js';
import {
  METADATA_LIMITS,
  MetadataLimitError,
  mergeMetadata,
  parseMetadata,
  participantsForLabels,
} from '../../src/sip/app/metadata.js';
import type { RecordingMetadata } from '../../src/sip/app/metadata.js';
import { BODIES, fixture } from '../helpers/siprec-fixtures.js';

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
  it("communication session groups: <group group_id> and a session's <group-ref>, once each", () => {
    const groupsOf = (file: string) => md(BODIES.find((b) => b.file === file)!).groups;
    assert.deepEqual(groupsOf('avaya-sbce.body'), ['7+OTCyoxTmqmqyA/1weDAg==']);
    assert.deepEqual(groupsOf('ribbon.body'), ['00000000000000000000000000ab12cd']);
    assert.deepEqual(groupsOf('opensips-3.4-invite.body'), []);
  });
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

describe('metadata limits', () => {
  const doc = (inner: string) =>
    `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>${inner}</recording>`;
  const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('');
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`).join(' ');

  it('keeps a document at every limit, each id once and in order', () => {
    const md = parseMetadata(
      doc(
        many(METADATA_LIMITS.participants, (i) => `<participant participant_id="p${i}"/>`) +
          many(METADATA_LIMITS.streams, (i) => `<stream stream_id="s${i}"><label>${i}</label></stream>`) +
          many(METADATA_LIMITS.groups, (i) => `<group group_id="g${i}"/>`) +
          // Ids repeated within and across lists count once per list.
          `<participantstreamassoc participant_id="p0"><send>${ids(5000)} ${ids(5000)}</send><recv>${ids(5000)}</recv></participantstreamassoc>`,
      ),
    );
    assert.equal(md.participants.length, METADATA_LIMITS.participants);
    assert.equal(md.groups.length, METADATA_LIMITS.groups);
    assert.deepEqual(md.participantStreams[0]!.send, ids(5000).split(' '));
    assert.equal(participantsForLabels(md)[0]!.sendsLabels.length, METADATA_LIMITS.streams);
  });

  const over: [string, string, RegExp][] = [
    [
      '100000 stream ids in one send',
      `<participantstreamassoc participant_id="p"><send>${ids(100_000)}</send></participantstreamassoc>`,
      /100000 stream ids in send\/recv, over the limit of 10000/,
    ],
    [
      '1001 participants',
      many(1001, (i) => `<participant participant_id="p${i}"/>`),
      /1001 participants, over the limit of 1000/,
    ],
    ['1001 streams', many(1001, (i) => `<stream stream_id="s${i}"/>`), /1001 streams/],
    ['1001 groups', many(1001, (i) => `<group group_id="g${i}"/>`), /1001 groups/],
    ['1001 sessions', many(1001, (i) => `<session session_id="c${i}"/>`), /1001 sessions/],
  ];
  for (const [name, inner, message] of over) {
    it(`MetadataLimitError: ${name}`, () =>
      assert.throws(
        () => parseMetadata(doc(inner)),
        (e: unknown) => e instanceof MetadataLimitError && message.test(e.message),
      ));
  }
});
