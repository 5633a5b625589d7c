import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/log.js';
import { openDatabase } from '../../src/store/db.js';
import { pidAlive } from '../../src/store/embedded.js';

const log = createLogger('silent');
const dbModule = resolve('src/store/db.ts');

/** Starts a separate node process that opens the database and then idles; resolves once it is ready. */
async function startOwnerProcess(dataDir: string) {
  const code = `
    import { openDatabase } from ${JSON.stringify(dbModule)};
    import { createLogger } from ${JSON.stringify(resolve('src/log.ts'))};
    const db = await openDatabase({ dataDir: ${JSON.stringify(dataDir)}, log: createLogger('silent') });
    console.log('ready ' + db.ownsEmbedded);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) res(out.trim());
    });
    child.on('exit', (c) => rej(new Error(`child exited ${c}`)));
  });
  return { child, line };
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

describe('store: embedded postgres survives kill -9 of its owner', () => {
  let dataDir: string;
  after(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('adopts a postgres whose owner was killed, stops it on close, and restarts after a stale pid file', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'srs-embedded-'));
    const { child, line } = await startOwnerProcess(dataDir);
    assert.equal(line, 'ready true');
    const pgPid = await postmasterPid(dataDir);
    assert.ok(pidAlive(pgPid));

    // A CLI beside the running server attaches and does not own it.
    const cli = await openDatabase({ dataDir, log });
    assert.equal(cli.ownsEmbedded, false);
    await cli.close();
    assert.ok(pidAlive(pgPid), 'attached close must not stop postgres');

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(pidAlive(pgPid), 'postgres outlives its killed parent');

    const adopted = await openDatabase({ dataDir, log });
    assert.equal(adopted.ownsEmbedded, true);
    assert.equal(await postmasterPid(dataDir), pgPid, 'the surviving instance is reused');
    await adopted.recordings.list();
    await adopted.close();
    assert.equal(pidAlive(pgPid), false, 'the adopter stops it');

    // Crash both (stale postmaster.pid left behind): the next start must still work.
    const second = await startOwnerProcess(dataDir);
    const pgPid2 = await postmasterPid(dataDir);
    second.child.kill('SIGKILL');
    process.kill(pgPid2, 'SIGKILL');
    await new Promise((r) => second.child.once('exit', r));
    for (let i = 0; i < 50 && pidAlive(pgPid2); i++) await sleep(100);
    const fresh = await openDatabase({ dataDir, log });
    assert.equal(fresh.ownsEmbedded, true);
    assert.notEqual(await postmasterPid(dataDir), pgPid2);
    await fresh.recordings.list();
    await fresh.close();
  });
});
