import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import {
  CARRIER_HEADER,
  carrierCsv,
  carrierCsvName,
  carrierField,
  indexCsv,
  indexRow,
  mediaName,
  parseCsv,
  plusNumber,
} from '../../src/delivery/csv.js';
import { callFacts, hms } from '../../src/delivery/facts.js';
import { checkDeliveryConfig } from '../../src/delivery/index.js';
import { checkMailTemplate, mailValues, renderMail } from '../../src/delivery/mail-template.js';
import { exportPath } from '../../src/delivery/export.js';
import { formatTime, parseTemplate, renderTemplate } from '../../src/delivery/template.js';
import { ConfigError } from '../../src/errors.js';
import type { DeliveryRecording } from '../../src/store/offload.js';

const rec = (over: Partial<DeliveryRecording> = {}): DeliveryRecording => ({
  id: '7dddacca-bf0d-493c-aa7c-1015a457a40e',
  state: 'stored',
  callId: 'a84b4c76e66710@pbx.example',
  sessionId: 'sess1',
  startedAt: new Date('2018-10-05T15:03:55.120Z'),
  durationMs: 65_400,
  storedAt: new Date('2018-10-05T15:05:00.000Z'),
  direction: 'unknown',
  callerNumber: '12567335223',
  callerName: 'MJ_Hiremath',
  calleeNumber: '12567335228',
  calleeName: 'Customer',
  user: {
    id: 'u1',
    username: 'mj.hiremath',
    displayName: 'MJ_Hiremath',
    group: 'sales',
    email: 'mj.hiremath@moviuscorp.com',
    isCaller: true,
  },
  wav: null,
  mp3: null,
  ...over,
});

describe('carrier offload CSV (seeds 000/001)', () => {
  it('names the file monitored_call_archive_audio_YYYYMMDD_HHMMSS__<uuid>.csv in UTC', () => {
    assert.equal(
      carrierCsvName(new Date('2024-03-01T09:30:00Z'), '11b21371-ab97-4a28-b963-dbe3e6690cf0'),
      'monitored_call_archive_audio_20240301_093000__11b21371-ab97-4a28-b963-dbe3e6690cf0.csv',
    );
    assert.equal(
      mediaName('7dddacca-bf0d-493c-aa7c-1015a457a40e'),
      'r_7dddacca-bf0d-493c-aa7c-1015a457a40e.wav',
    );
  });

  it('starts with #COUNT, then the quoted header of the document, byte for byte', () => {
    const lines = carrierCsv([rec()]).split('\n');
    assert.equal(lines[0], '#COUNT:1');
    assert.equal(
      lines[1],
      '"SID","Name","Email Address","Type of Message","To (Number)","To (Name)","To (SID)","To (Email)","From (Number)","From (Name)","From (SID)","From (Email)","Body","Message Time (UTC)","SMS Unique ID"',
    );
    assert.equal(CARRIER_HEADER.length, 15);
  });

  it('writes the sample audio row: + numbers, Body = media file name, UTC time with ms', () => {
    const lines = carrierCsv([rec()]).split('\n');
    assert.equal(
      lines[2],
      '"","MJ_Hiremath","mj.hiremath@moviuscorp.com","Outgoing","+12567335228","Customer","","","+12567335223","MJ_Hiremath","","mj.hiremath@moviuscorp.com","r_7dddacca-bf0d-493c-aa7c-1015a457a40e.wav","2018-10-05 15:03:55.120","7dddacca-bf0d-493c-aa7c-1015a457a40e"',
    );
    assert.equal(lines[3], '');
    assert.equal(lines.length, 4);
  });

  it('an incoming call puts the user email on the To side', () => {
    const r = rec({ user: { ...rec().user!, isCaller: false } });
    const row = parseCsv(carrierCsv([r]))[2] as string[];
    assert.equal(row[3], 'Incoming');
    assert.equal(row[7], 'mj.hiremath@moviuscorp.com');
    assert.equal(row[11], '');
  });

  it('a zero-row batch is #COUNT:0 and the header', () => {
    assert.equal(carrierCsv([]), `#COUNT:0\n${CARRIER_HEADER.map((h) => `"${h}"`).join(',')}\n`);
  });

  const escapes: [string, string][] = [
    ['plain', '"plain"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two""lines"'],
    ['crlf\r\nend', '"crlf""end"'],
    ['cr\rend', '"cr""end"'],
    ['', '""'],
    ['comma, inside', '"comma, inside"'],
  ];
  for (const [input, want] of escapes)
    it(`escapes ${JSON.stringify(input)} as the document says`, () =>
      assert.equal(carrierField(input), want));

  it('every row stays one physical line, and reads back with a quote where a newline was', () => {
    const csv = carrierCsv([rec({ calleeName: 'Bob "B"\nSmith', callerName: 'x,y' })]);
    assert.equal(csv.split('\n').length, 4);
    const rows = parseCsv(csv);
    assert.equal(rows[2]?.[5], 'Bob "B""Smith');
    assert.equal(rows[2]?.[9], 'x,y');
  });

  const numbers: [string, string][] = [
    ['12567335228', '+12567335228'],
    ['+4930123456', '+4930123456'],
    ['1001', '+1001'],
    ['(415) 555-0123', '+4155550123'],
    ['alice', 'alice'],
    ['', ''],
  ];
  for (const [input, want] of numbers)
    it(`prefixes number ${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () =>
      assert.equal(plusNumber(input), want));
});

describe('file-name templates (seed 004)', () => {
  const r = rec();
  const t = (src: string) => exportPath(parseTemplate(src), r);

  it('renders the default and the customised formats of the document', () => {
    assert.equal(
      t('%{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{call-id}'),
      '20181005/20181005150355-a84b4c76e66710@pbx.example.mp3',
    );
    assert.equal(
      t('%{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{caller-number}-%{callee-number}-%{call-id}'),
      '20181005/20181005150355-12567335223-12567335228-a84b4c76e66710@pbx.example.mp3',
    );
  });

  const table: [string, string][] = [
    ['%{setup-time##%Y/%m/%d}/%{recording-id}', '2018/10/05/7dddacca-bf0d-493c-aa7c-1015a457a40e.mp3'],
    [
      '%{user}-%{extension}-%{remote-number}-%{group}-%{direction}',
      'mj.hiremath-12567335223-12567335228-sales-OUT.mp3',
    ],
    ['%{duration}s-%{end-time##%H%M%S}', '65s-150500.mp3'],
    ['%{setup-time##%y%j %L %s}', '18278 120 1538751835.mp3'],
    ['100%%-%{session-id}', '100%-sess1.mp3'],
    ['%{caller-name}', 'MJ_Hiremath.mp3'],
  ];
  for (const [src, want] of table) it(`${src} -> ${want}`, () => assert.equal(t(src), want));

  it('inserts custom field values (%{field:<name>}), empty when the recording has none', () => {
    const tagged = rec({ fields: { order_no: '4711', campaign: 'Spring/Sale' } });
    assert.equal(
      exportPath(parseTemplate('%{field:campaign}/%{field:order_no}-%{call-id}'), tagged),
      'Spring_Sale/4711-a84b4c76e66710@pbx.example.mp3',
    );
    assert.equal(exportPath(parseTemplate('%{field:order_no}/x'), rec()), '_/x.mp3');
  });

  it('values never make folders or hidden files', () => {
    const evil = rec({ callId: '../../etc/passwd', callerNumber: '.hidden' });
    assert.equal(exportPath(parseTemplate('%{call-id}'), evil), '.._.._etc_passwd.mp3'.replace(/^\./, '_'));
    assert.equal(exportPath(parseTemplate('%{caller-number}/x'), evil), '_hidden/x.mp3');
    assert.equal(exportPath(parseTemplate('%{session-id}/x'), rec({ sessionId: null })), '_/x.mp3');
  });

  const bad: [string, RegExp][] = [
    ['', /empty template/],
    ['/abs/%{call-id}', /relative/],
    ['%{nope}', /unknown field "nope"/],
    ['%{call-id##%Y}', /not a time/],
    ['%{setup-time##%Q}', /unknown time directive %Q/],
    ['%{setup-time##}', /empty time format/],
    ['%{call-id', /unclosed/],
    ['50%', /%% /],
    ['../%{call-id}', /"\." and "\.\."/],
    ['a//%{call-id}', /empty folder/],
    ['a\\b', /use \//],
    ['%{field:Order}', /"Order" is not a custom field name/],
    ['%{field:order_no##%Y}', /a custom field is not a time/],
  ];
  for (const [src, re] of bad)
    it(`refuses ${JSON.stringify(src)}`, () =>
      assert.throws(
        () => parseTemplate(src),
        (e: unknown) => e instanceof ConfigError && re.test(e.message),
      ));

  it('fuzz: any input parses or is refused with ConfigError; a rendered path never leaves the root', () => {
    const tokens = [
      '%{',
      '}',
      '##',
      '%Y',
      '%Q',
      '%%',
      '%',
      '/',
      '..',
      '.',
      'a',
      '-',
      'call-id',
      'setup-time',
      'user',
      '\\',
      ' ',
      '\n',
    ];
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const values = ['../../x', '.', '', 'a/b', 'ok', '\u0000', 'C:\\x'];
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      let src = '';
      for (let k = rnd(12); k >= 0; k--) src += tokens[rnd(tokens.length)];
      let t;
      try {
        t = parseTemplate(src);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `${JSON.stringify(src)}: ${String(err)}`);
        continue;
      }
      parsed++;
      const v = values[rnd(values.length)] as string;
      const path = exportPath(t, rec({ callId: v, sessionId: v, callerNumber: v }));
      assert.ok(!path.startsWith('/'), path);
      for (const seg of path.split('/'))
        assert.ok(seg !== '' && seg !== '..' && seg !== '.' && !seg.startsWith('.'), `${src} -> ${path}`);
    }
    assert.ok(parsed > 100, `some inputs parse (${parsed})`);
  });

  it('formats times in UTC', () => {
    assert.equal(
      formatTime(new Date('2024-12-31T23:59:58.007Z'), '%Y-%m-%d %H:%M:%S.%L day %j'),
      '2024-12-31 23:59:58.007 day 366',
    );
    assert.equal(renderTemplate(parseTemplate('x'), { times: {}, text: {} }), 'x');
  });

  it('is checked when the server starts, naming the setting', () => {
    const config = loadConfig(
      { SRS_KEY_PASSPHRASE: 'p' },
      { export: { enabled: true, template: '%{bogus}', primary: { type: 'local', directory: '/tmp' } } },
    );
    assert.throws(() => checkDeliveryConfig(config), /export\.template: unknown field "bogus"/);
  });
});

describe('delivery configuration', () => {
  it('is off by default and needs nothing', () => {
    const c = loadConfig({});
    assert.equal(c.offload.enabled, false);
    assert.equal(c.offload.intervalMinutes, 30);
    assert.equal(c.export.intervalSeconds, 60);
    checkDeliveryConfig(c);
  });

  it('bounds the attempts before an item is marked failed (offload 48, export and email 10)', () => {
    const c = loadConfig({});
    assert.deepEqual(
      [c.offload.maxAttempts, c.export.maxAttempts, c.notifications.maxAttempts],
      [48, 10, 10],
    );
    assert.equal(loadConfig({}, { export: { maxAttempts: 3 } }).export.maxAttempts, 3);
    assert.throws(() => loadConfig({}, { notifications: { maxAttempts: 0 } }), /notifications\.maxAttempts/);
  });

  it('refuses to start a feature without the key passphrase, naming the setting', () => {
    const c = loadConfig({}, { export: { enabled: true, primary: { type: 'local', directory: '/tmp' } } });
    assert.throws(() => checkDeliveryConfig(c), /SRS_KEY_PASSPHRASE/);
  });

  it('names missing destinations and bad SFTP settings', () => {
    assert.throws(() => loadConfig({}, { offload: { enabled: true } }), /offload\.audio: required/);
    assert.throws(
      () =>
        loadConfig(
          {},
          {
            offload: { enabled: true, audio: { host: 'h', username: 'u', directory: '/in' } as never },
          },
        ),
      /offload\.audio.*password, passwordFile or privateKeyFile/s,
    );
    assert.throws(
      () => loadConfig({}, { notifications: { enabled: true } }),
      /notifications\.smtp: required/,
    );
    const c = loadConfig(
      {},
      {
        offload: {
          enabled: true,
          audio: {
            host: 'h',
            username: 'u',
            password: 'p',
            directory: '/in',
            hostKeySha256: 'SHA256:x',
          } as never,
        },
      },
    );
    const audio = c.offload.audio;
    assert.ok(audio && audio.type !== 's3', 'no type: sftp, as before S3 destinations existed');
    assert.equal(audio.port, 22);
    assert.equal(audio.timeoutSeconds, 360);
  });
});

describe('notification templates (seed 003 tags)', () => {
  it('fills every tag', () => {
    const facts = callFacts(rec());
    const v = mailValues({
      facts,
      displayName: 'MJ',
      attachmentBytes: 2049,
      maxAttachmentBytes: 5 * 1048576,
      timeZone: 'UTC',
    });
    const out = renderMail(
      '[RecordingID] [Username] [UserDisplayName] [UserExtension] [RemotePhoneNumber] [RecordingStartDate] [RecordingStartTime] [RecordingDuration] [RecordingGroupName] [PBXCallID] [CallDirection] [AttachmentFileSize] [MaxAttachmentSize] [not a tag]',
      v,
    );
    assert.equal(
      out,
      '7dddacca-bf0d-493c-aa7c-1015a457a40e mj.hiremath MJ 12567335223 12567335228 2018-10-05 15:03:55 00:01:05 sales a84b4c76e66710@pbx.example outgoing 3 5 [not a tag]',
    );
  });

  it('uses the configured time zone', () => {
    const v = mailValues({
      facts: callFacts(rec()),
      displayName: '',
      attachmentBytes: 0,
      maxAttachmentBytes: 0,
      timeZone: 'Europe/Rome',
    });
    assert.equal(v.RecordingStartTime, '17:03:55');
    assert.equal(v.MaxAttachmentSize, 'no limit');
    assert.equal(v.AttachmentFileSize, '0');
  });

  it('refuses unknown tags, naming them', () => {
    assert.throws(
      () => checkMailTemplate('Hi [Usrname], [RecordingID]', 'notifications.body'),
      /notifications\.body: unknown tag \[Usrname\]/,
    );
    checkMailTemplate('Hi [Username] [RecordingID]', 'x');
  });

  it('an index row and file are UTF-8 with agent, extension, remote number, start, duration, group', () => {
    const csv = indexCsv([indexRow(rec({ calleeName: 'Zoë' }), '2018/10/05/x.mp3')]);
    assert.ok(csv.startsWith('\uFEFFRecording ID,Agent,Extension,Remote Number,Start (UTC),Duration,Group'));
    const rows = parseCsv(csv);
    assert.deepEqual(rows[1]?.slice(0, 7), [
      '7dddacca-bf0d-493c-aa7c-1015a457a40e',
      'MJ_Hiremath',
      '12567335223',
      '12567335228',
      '2018-10-05T15:03:55.120Z',
      '00:01:05',
      'sales',
    ]);
    assert.equal(hms(3_600_000 + 61_000), '01:01:01');
  });
});
