/**
 * A webhook (SRS_HOOK_URL) whose receiver takes the request and never answers, and a command
 * (SRS_HOOK_COMMAND) that works, on the real server (`srs serve`, a SIPREC call): the command runs
 * while the webhook hangs, not after the webhook's 30 s timeout (nor never, when the webhook
 * failed), and the job's retry runs the webhook alone.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendLoopbackTone } from '../helpers/rtp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SiprecUac } from '../helpers/siprec-uac.js';
import { waitForState } from '../helpers/sipp.js';

describe('hook: a webhook that hangs beside a command that works', { timeout: 300_000 }, () => {
  let dir: string;
  let s: TestServer | undefined;
  let receiver: Server | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-hook-hang-'));
  });
  after(async () => {
    await s?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the command while the webhook hangs; the webhook is retried after, the command runs once', async (t) => {
    const ran = join(dir, 'ran');
    const hook = join(dir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\necho "$SRS_RECORDING_ID" >> ${ran}\nexit 0\n`);
    await chmod(hook, 0o755);
    let mute = true;
    const requests: string[] = [];
    const hanging = new Set<ServerResponse>();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests.push(body);
        if (mute) hanging.add(res);
        else res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    s = await startTestServer({ SRS_HOOK_URL: url, SRS_HOOK_COMMAND: hook });
    await s.waitFor(/SIPREC recording server ready/, 90_000);
    const uac = await SiprecUac.open(s.sipPort);
    const inv = await uac.invite({ streams: 1 });
    assert.equal(inv.status, 200, inv.text);
    await sendLoopbackTone(inv.ports[0] as number, 500, 0x51);
    await uac.request('BYE');
    uac.close();
    const id = (await waitForState(s, uac.callId, 'stored')).id;
    const lines = async () => (await readFile(ran, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    // Well within the webhook's 30 s timeout: the command has run and the webhook still hangs.
    const t0 = Date.now();
    while ((await lines()).length === 0 && Date.now() - t0 < 20_000)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await lines(), [id], 'the command did not run while the webhook hung');
    t.diagnostic(
      `the command ran ${Date.now() - t0} ms after the recording was stored (polled every 100 ms)`,
    );
    assert.ok(
      hanging.size >= 1 && requests.length === 1,
      `${hanging.size} hanging, ${requests.length} requests`,
    );
    // The receiver drops the hanging request and answers from now on: the retry delivers it.
    mute = false;
    for (const res of hanging) res.socket?.destroy();
    await s.waitFor(new RegExp(`"recordingId":"${id}".*"msg":"recording hook delivered"`), 60_000);
    assert.ok(requests.length >= 2, `${requests.length} webhook requests`);
    assert.equal((JSON.parse(requests.at(-1) as string) as { id: string }).id, id);
    assert.deepEqual(await lines(), [id], 'the command ran again on the retry');
  });
});
