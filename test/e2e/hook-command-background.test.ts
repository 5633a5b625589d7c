/**
 * A hook command (SRS_HOOK_COMMAND) that leaves a process running in the background, holding the
 * stderr it inherited (`notify-send ... &`, `curl ... &`): the hook is done when the command exits,
 * not when every process that holds its stderr is gone. Real `srs serve`, real SIPREC calls, a real
 * shell script.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { storedToneCall } from '../helpers/tone-call.js';

describe('hook command: a process left in the background', { timeout: 300_000 }, () => {
  let dir: string;
  let s: TestServer | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'srs-hook-bg-'));
  });
  after(async () => {
    await s?.stop();
    // The background sleeps the hook started, by their pids.
    const pids = (await readFile(join(dir, 'pids'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('counts the hook done when the command exits, and runs the next', async () => {
    const hook = join(dir, 'hook.sh');
    await writeFile(
      hook,
      `#!/bin/sh\necho "$SRS_RECORDING_ID" >> ${join(dir, 'ran')}\nsleep 600 &\necho $! >> ${join(dir, 'pids')}\nexit 0\n`,
    );
    await chmod(hook, 0o755);
    s = await startTestServer({ SRS_HOOK_COMMAND: hook });
    await s.waitFor(/SIPREC recording server ready/, 90_000);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await storedToneCall(s, 500)).id);
    for (const id of ids)
      await s.waitFor(new RegExp(`"recordingId":"${id}".*"msg":"recording hook delivered"`), 60_000);
    const ran = (await readFile(join(dir, 'ran'), 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual([...ran].sort(), [...ids].sort());
  });
});
