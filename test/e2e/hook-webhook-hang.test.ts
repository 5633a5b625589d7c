/**
 * A webhook (SRS_HOOK_URL) whose receiver takes the request and never answers, and a command
 * (SRS_HOOK_COMMAND) that works, on the real server (`srs serve`, SIPREC calls):
 * - the command runs while the webhook hangs, not after the webhook's 30 s timeout (nor never, when
 *   the webhook failed), and the job's retry runs the webhook alone;
 * - another recording's webhook is delivered while the first one's hangs: hook jobs of different
 *   recordings run at once (SRS_HOOK_CONCURRENCY), not one behind the other.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { storedToneCall } from '../helpers/tone-call.js';

describe('hook: a webhook that hangs', { timeout: 300_000 }, () => {
  let dir: string;
  let ran: string;
  let s: TestServer;
  let receiver: Server | undefined;
  /** Every webhook request: the recording it is for, its body, when it came. */
  const requests: { id: string; body: string; at: number }[] = [];
  const hanging = new Set<ServerResponse>();
  /** Recordings whose unanswered request the server dropped (its webhook timeout). */
  const dropped = new Set<string>();
  /** Whether the receiver keeps this recording's request unanswered (else it answers 200 at once). */
  let hangs: (id: string) => boolean = () => false;
  const lines = async () => (await readFile(ran, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}:\n${s.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-hook-hang-'));
    ran = join(dir, 'ran');
    const hook = join(dir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\necho "$SRS_RECORDING_ID" >> ${ran}\nexit 0\n`);
    await chmod(hook, 0o755);
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const id = (JSON.parse(body) as { id: string }).id;
        requests.push({ id, body, at: Date.now() });
        if (hangs(id)) {
          hanging.add(res);
          res.once('close', () => dropped.add(id));
        } else res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    s = await startTestServer({ SRS_HOOK_URL: url, SRS_HOOK_COMMAND: hook });
    await s.waitFor(/SIPREC recording server ready/, 90_000);
  });
  after(async () => {
    await s?.stop();
    receiver?.closeAllConnections();
    await new Promise((r) => (receiver ? receiver.close(r) : r(undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the command while the webhook hangs; the webhook is retried after, the command runs once', async (t) => {
    let mute = true;
    hangs = () => mute;
    const id = (await storedToneCall(s, 500)).id;
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
    hanging.clear();
    await s.waitFor(new RegExp(`"recordingId":"${id}".*"msg":"recording hook delivered"`), 60_000);
    assert.ok(requests.length >= 2, `${requests.length} webhook requests`);
    assert.equal(requests.at(-1)?.id, id);
    assert.deepEqual(await lines(), [id], 'the command ran again on the retry');
  });

  it('delivers a second recording webhook while the first recording webhook hangs', async (t) => {
    // Two calls at once; the receiver keeps the first request it gets (up to the 30 s webhook
    // timeout, when the server drops it) and answers the other at once.
    let first: string | undefined;
    hangs = (id) => (first ??= id) === id;
    const recorded = await Promise.all([storedToneCall(s, 300), storedToneCall(s, 300)]);
    const ids = recorded.map((r) => r.id);
    const got = (id: string) => requests.find((r) => r.id === id);
    // Before, the hook queue ran one job at a time: the other came only once the first timed out.
    await until('both webhook requests', () => ids.every((id) => got(id)), 20_000);
    const second = ids.find((id) => id !== first) as string;
    t.diagnostic(
      `the second webhook came ${(got(second)?.at ?? 0) - (got(first as string)?.at ?? 0)} ms after the first (hanging) one`,
    );
    assert.ok(first && ids.includes(first), `first request for ${first}, recordings ${ids.join(', ')}`);
    assert.ok(!dropped.has(first as string), 'the first webhook request was dropped before the second came');
    await s.waitFor(new RegExp(`"recordingId":"${second}".*"msg":"recording hook delivered"`), 30_000);
    assert.equal(requests.filter((r) => r.id === first).length, 1, 'the first webhook was sent again');
    // Both commands ran as well, each once.
    await until(
      'both commands',
      async () => {
        const ran = await lines();
        return ids.every((id) => ran.includes(id));
      },
      30_000,
    );
    for (const id of ids) assert.equal((await lines()).filter((l) => l === id).length, 1, id);
    for (const res of hanging) res.socket?.destroy();
    hanging.clear();
  });
});
