/**
 * Custom fields filled from what the SRC sends (SRS_FIELDS_FROM_SIP), on the real server with real
 * SIP over UDP: a header (`X-Order-Id`) and a vendor extension element of the metadata
 * (`<crm:ticketId>` in its own namespace, configured as `Ticket_ID`: names are compared like the
 * metadata's) become the recording's field values, searchable; a value the field refuses (a date
 * field given "tomorrow") and a field no admin defined are left out and logged, and the call is
 * recorded all the same. The startup warns about undefined fields.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logLinesSince, logMark, run, SRS_BIN, startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

describe('custom fields from the SRC’s INVITE (SRS_FIELDS_FROM_SIP)', { timeout: 120000 }, () => {
  let server: TestServer;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${server.token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, json: (await r.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  /** One recorded call: INVITE with `headers` and `metadataExtra`, then BYE; its stored recording. */
  const call = async (headers: string[], metadataExtra?: string) => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({
      streams: 1,
      extraHeaders: headers,
      ...(metadataExtra ? { metadataExtra } : {}),
    });
    assert.equal(inv.status, 200, inv.text);
    await uac.request('BYE');
    uac.close();
    return waitForState(server, uac.callId, 'stored');
  };

  before(async () => {
    server = await startTestServer({
      SRS_FIELDS_FROM_SIP:
        'order_no=header:X-Order-Id, ticket=metadata:Ticket_ID, follow_up=header:X-Follow-Up, region=header:X-Region',
    });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('warns at startup about the fields no admin has defined', () => {
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('SRS_FIELDS_FROM_SIP names custom fields that are not defined'));
    assert.ok(line, 'startup warning');
    assert.deepEqual(JSON.parse(line).fields, ['order_no', 'ticket', 'follow_up', 'region']);
  });

  it('stores a header and a metadata extension as field values; leaves out what the fields refuse', async () => {
    for (const f of [
      { name: 'order_no', label: 'Order #', type: 'text' },
      { name: 'ticket', label: 'Ticket', type: 'text' },
      { name: 'follow_up', label: 'Follow-up', type: 'date' },
    ])
      assert.equal((await api('POST', '/custom-fields', f)).status, 201);
    const mark = logMark(server);
    const rec = await call(
      ['X-Order-Id:  4711 ', 'X-Follow-Up: tomorrow', 'X-Region: EU'],
      '  <crm:ticketId xmlns:crm="urn:example:crm">T-99</crm:ticketId>',
    );
    const detail = await api('GET', `/recordings/${rec.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.json.fields, { order_no: '4711', ticket: 'T-99' });
    // The refused value and the undefined field: named in one (rate-limited) warning.
    const warned = server
      .output()
      .split('\n')
      .slice(mark - 1)
      .find((l) => l.includes('custom field values sent by the SRC were not stored'));
    assert.ok(warned, 'warning for the values left out');
    assert.deepEqual(JSON.parse(warned).skipped, [
      'no custom field named region',
      'follow_up: "tomorrow" is not a date (YYYY-MM-DD)',
    ]);
    const found = await api('GET', '/recordings?field=ticket:t-99');
    assert.deepEqual(
      found.json.items.map((i: { id: string }) => i.id),
      [rec.id],
    );

    // The CLI's search flags (the same filters, as an admin).
    const cli = (...args: string[]) => run(process.execPath, [SRS_BIN, ...args], { env: server.env });
    for (const flags of [
      ['--text', '4711'],
      ['--field', 'ticket:t-99'],
      ['--text', '4711', '--state', 'stored', '--from', '2020-01-01T00:00:00Z'],
    ]) {
      const r = await cli('recordings', 'list', '--json', ...flags);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (JSON.parse(r.stdout) as { id: string }[]).map((x) => x.id),
        [rec.id],
        flags.join(' '),
      );
    }
    const none = await cli('recordings', 'list', '--json', '--text', 'no-such-text');
    assert.deepEqual(JSON.parse(none.stdout), []);
    for (const [flags, message] of [
      [['--state', 'lost'], /^srs: --state: one of recording, processing, stored, failed, purged/],
      [['--from', 'yesterday'], /^srs: --from: not a date/],
      [['--field', 'ticket'], /^srs: --field: "ticket" is not <field name>:<value>/],
    ] as const) {
      const r = await cli('recordings', 'list', ...flags);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }

    // A call without them: recorded, no values, nothing logged.
    const mark2 = logMark(server);
    const plain = await call([]);
    assert.deepEqual((await api('GET', `/recordings/${plain.id}`)).json.fields, {});
    assert.equal(logLinesSince(server, mark2, 'custom field values sent by the SRC were not stored'), 0);
  });
});
