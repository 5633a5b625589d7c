import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, freePort, run } from '../helpers/server.js';

/**
 * The README's quick start, run as written from a fresh clone of this repository's HEAD: the
 * commands are read from the fenced block after the `<!-- quickstart` marker; the `# terminal 1`
 * lines run in the background (the server), the `# terminal 2` lines one after the other, each
 * must succeed, and the call they place must be recorded and found with the CLI. Only the
 * environment differs from a user's shell: free ports on loopback (SIP_PORT is also read by the
 * quick start's sipp line) and node_modules hard-linked from this checkout instead of downloaded.
 */

interface Listed {
  id: string;
  state: string;
  files: { kind: string }[];
}

interface QuickStart {
  background: string[];
  foreground: string[];
}

export function quickStartCommands(readme: string): QuickStart {
  const marker = readme.indexOf('<!-- quickstart');
  assert.ok(marker >= 0, 'README has no <!-- quickstart --> marker');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(block?.[1], 'no ```sh block after the quick-start marker');
  const out: QuickStart = { background: [], foreground: [] };
  let terminal: string[] | undefined;
  for (const line of block[1].split('\n').map((l) => l.trim())) {
    if (line === '# terminal 1') terminal = out.background;
    else if (line === '# terminal 2') terminal = out.foreground;
    else if (line && !line.startsWith('#')) {
      assert.ok(terminal, `quick-start command before any "# terminal N" line: ${line}`);
      terminal.push(line);
    }
  }
  assert.ok(out.background.length > 0 && out.foreground.length > 0, block[1]);
  return out;
}

/** An even port whose next 8 UDP ports are free now (other tests on this machine use RTP too). */
async function freeRtpBase(): Promise<number> {
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20000 + 2 * Math.floor(Math.random() * 5000);
    let ok = true;
    for (let p = base; ok && p < base + 8; p++) ok = await bindable(p);
    if (ok) return base;
  }
}

/** A user's shell: no test settings, no npm run-script variables, no node_modules/.bin of ours. */
async function userEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('npm_') || k.startsWith('SRS_') || k === 'DATABASE_URL') continue;
    if (k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes('node_modules'))
    .join(delimiter);
  const rtpBase = await freeRtpBase();
  Object.assign(env, {
    SIP_HOST: '127.0.0.1',
    SIP_PORT: String(await freePort(true)),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(await freePort()),
    RTP_BIND_ADDRESS: '127.0.0.1',
    RTP_PORT_MIN: String(rtpBase),
    RTP_PORT_MAX: String(rtpBase + 199),
  });
  return env;
}

describe('README quick start, from a fresh clone', { timeout: 240_000 }, () => {
  let dir: string | undefined;
  let server: ReturnType<typeof spawn> | undefined;
  after(async () => {
    if (server?.pid && server.exitCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records a call and finds it with the CLI, then stops cleanly on Ctrl-C', async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const commands = quickStartCommands(await readFile(join(ROOT, 'README.md'), 'utf8'));
    dir = await mkdtemp(join(tmpdir(), 'srs-quickstart-'));
    const clone = join(dir, 'siprec-recorder');
    execFileSync('git', ['clone', '--quiet', ROOT, clone]);
    // The dependencies as `npm install` would fetch them, without the download: hard links (the
    // clone's npm rewrites its own hidden lockfile, so that one is not shared).
    execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(clone, 'node_modules')]);
    await rm(join(clone, 'node_modules', '.package-lock.json'), { force: true });
    const env = await userEnv();

    // Terminal 1, as a shell runs a foreground job: its own process group, so Ctrl-C reaches all of it.
    let out = '';
    server = spawn('bash', ['-c', commands.background.join('\n')], {
      cwd: clone,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => server?.once('exit', (code) => r(code)));
    const deadline = Date.now() + 180_000;
    while (!/SIPREC recording server ready/.test(out)) {
      assert.ok(server.exitCode === null, `terminal 1 exited (${server.exitCode}):\n${out.slice(-3000)}`);
      assert.ok(Date.now() < deadline, `server not ready:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    mark('server ready');
    // Terminal 2: its commands in one shell, as pasted (a `cd` carries over to the next line).
    const r = await run('bash', ['-e', '-c', commands.foreground.join('\n')], {
      cwd: clone,
      env,
      timeoutMs: 90_000,
    });
    assert.equal(
      r.code,
      0,
      `${commands.foreground.join('\n')}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
    );
    mark('terminal 2 done');
    const id = /^([0-9a-f]{8}-[0-9a-f-]{27})\s/m.exec(r.stdout)?.[1];
    assert.ok(id, `no recording listed by the quick start:\n${r.stdout.slice(-2000)}`);

    // The recording is stored (encrypted, catalogued) shortly after the call: ask the CLI.
    let state = '';
    while (state !== 'stored' && Date.now() < deadline) {
      const l = await run('bash', ['-c', 'bin/srs.js recordings list --json'], { cwd: clone, env });
      assert.equal(l.code, 0, l.stderr);
      const rows = JSON.parse(l.stdout) as Listed[];
      const row: Listed | undefined = rows.find((x) => x.id === id);
      state = row?.state ?? '';
      assert.notEqual(state, 'failed', l.stdout);
      if (state === 'stored') assert.deepEqual(row?.files.map((f) => f.kind).sort(), ['mp3', 'wav']);
      else await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(state, 'stored');
    mark('stored');

    // Ctrl-C in terminal 1.
    process.kill(-(server.pid as number), 'SIGINT');
    const code = await exited;
    // npm, like a shell's foreground job, dies of the SIGINT itself; the server under it stops
    // cleanly (its exit code is tested by cli-data-and-stop.test.ts): nothing may be left running.
    assert.ok(
      code === 0 || server.signalCode === 'SIGINT',
      `exit ${code} ${server.signalCode}\n${out.slice(-3000)}`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(existsSync(join(clone, 'data', 'pg', 'postmaster.pid')), false, 'postgres still running');
    const errors = out.split('\n').filter((l) => /"level":(50|60)|terminating connection|\bERR!/.test(l));
    assert.deepEqual(errors, []);
    assert.match(out, /embedded postgres: stopped/);

    // After a `git pull` (a source newer than the build), `npm start` builds again before it
    // starts (it ran the previous build without a word); with nothing changed it builds nothing.
    const pkg = JSON.parse(await readFile(join(clone, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    const start = (pkg.scripts.start.split('&&')[0] ?? '').trim();
    assert.match(start, /^node scripts\/build\.js /);
    assert.doesNotMatch((await run('bash', ['-c', start], { cwd: clone, env })).stdout, /built/);
    // Edited now: newer than the build made at the start (a time in the future would still be
    // newer than a rebuild that takes less than that, and the next start would build again).
    const now = new Date();
    await utimes(join(clone, 'src', 'log.ts'), now, now);
    assert.match((await run('bash', ['-c', start], { cwd: clone, env })).stdout, /^server built in /m);
    assert.doesNotMatch((await run('bash', ['-c', start], { cwd: clone, env })).stdout, /built/);
  });
});
