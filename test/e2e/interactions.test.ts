/**
 * Interactions on the real server with real SIP over UDP: two SIPREC sessions whose metadata names
 * the same communication session group (RFC 7865 `<group group_id>`, as Avaya's SBC sends it for a
 * transfer or a consultation) are recorded as two recordings of one interaction; the search finds
 * the interaction's recordings and each recording's details list its parts. A session with no group
 * is in no interaction.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitForState } from '../helpers/sipp.js';
import { SiprecUac } from '../helpers/siprec-uac.js';

describe('interactions: SIPREC sessions of one communication session group', { timeout: 120000 }, () => {
  let server: TestServer;
  const api = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${server.httpPort}/api/v1${path}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200, path);
    return (await r.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const call = async (metadataExtra?: string) => {
    const uac = await SiprecUac.open(server.sipPort);
    const inv = await uac.invite({ streams: 1, ...(metadataExtra ? { metadataExtra } : {}) });
    assert.equal(inv.status, 200, inv.text);
    await uac.request('BYE');
    uac.close();
    return waitForState(server, uac.callId, 'stored');
  };
  const GROUP = 'Nm4OTCyoxTmqmqyA/1weDAg==';
  const group = `  <group group_id="${GROUP}"><associate-time>2026-12-04T10:00:00Z</associate-time></group>`;

  before(async () => {
    server = await startTestServer();
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, `server did not shut down cleanly:\n${server?.output().slice(-3000)}`);
  });

  it('links the recordings of one group, and lists them as the parts of each', async () => {
    const first = await call(group);
    const alone = await call();
    const second = await call(group);
    const listed = await api(`/recordings?interaction=${encodeURIComponent(GROUP)}`);
    assert.deepEqual(
      listed.items.map((i: { id: string }) => i.id),
      [second.id, first.id],
      'newest first, like every search',
    );
    assert.ok(listed.items.every((i: { interactionId: string }) => i.interactionId === GROUP));
    const detail = await api(`/recordings/${first.id}`);
    assert.equal(detail.interactionId, GROUP);
    assert.deepEqual(
      detail.interaction.parts.map((p: { id: string }) => p.id),
      [first.id, second.id],
      'the parts oldest first',
    );
    const lone = await api(`/recordings/${alone.id}`);
    assert.equal(lone.interactionId, null);
    assert.equal(lone.interaction, null);
    const all = await api('/recordings');
    assert.equal(all.items.find((i: { id: string }) => i.id === alone.id)?.interactionId, null);
  });

  it('takes a group first named in a re-INVITE (after the answer, as Oracle SBCs send it), and keeps the first', async () => {
    const uac = await SiprecUac.open(server.sipPort);
    assert.equal((await uac.invite({ streams: 1 })).status, 200);
    assert.match((await uac.reinvite({ streams: 1, metadataExtra: group })) ?? '', /^SIP\/2\.0 200/);
    // A later, other group does not move it.
    const other = group.replace(GROUP, 'b3RoZXItZ3JvdXAtaWQ=');
    assert.match((await uac.reinvite({ streams: 1, metadataExtra: other })) ?? '', /^SIP\/2\.0 200/);
    await uac.request('BYE');
    uac.close();
    const rec = await waitForState(server, uac.callId, 'stored');
    assert.equal((await api(`/recordings/${rec.id}`)).interactionId, GROUP);
    const parts = await api(`/recordings?interaction=${encodeURIComponent(GROUP)}`);
    assert.equal(parts.total, 3, 'the two of the first test and this one');
  });
});
