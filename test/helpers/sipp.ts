import assert from 'node:assert/strict';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, SRS_BIN, freePort, run, type TestServer } from './server.js';

export const SCENARIOS = join(ROOT, 'sip-scenarios');

export interface ListedRecording {
  id: string;
  sessionId: string | null;
  callId: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  state: string;
  participants: { participantId: string; aor: string | null; name: string | null; sends: string[] }[];
  files: { kind: string; path: string; sha256Plain: string; sha256Cipher: string }[];
}

/** Runs one SIPp scenario from sip-scenarios/ against host:port (one call, bounded in time). */
export async function sipp(target: string, scenario: string, extra: string[] = []): ReturnType<typeof run> {
  const port = await freePort(true);
  return run(
    'sipp',
    [
      ...['-sf', scenario, '-m', '1', '-s', 'srs', '-i', '127.0.0.1', '-p', String(port)],
      ...['-mp', String(42000 + 4 * Math.floor(Math.random() * 4000))],
      ...['-timeout', '30s', '-timeout_error', '-nostdin', '-trace_err'],
      ...extra,
      target,
    ],
    { cwd: SCENARIOS, timeoutMs: 45000 },
  );
}

/**
 * Writes `siprec-basic.xml` as a signalling-only scenario to `path`: no pcap played (the test's own
 * sender plays the RTP) and the call lasts SIPp's `-d` milliseconds.
 */
export async function writeSignallingOnlyScenario(path: string): Promise<void> {
  const src = await readFile(join(SCENARIOS, 'siprec-basic.xml'), 'utf8');
  const text = src
    .replace(/<nop>\s*<action>\s*<exec play_pcap_audio="[^"]*"\s*\/>\s*<\/action>\s*<\/nop>/, '')
    .replace(/<pause milliseconds="\d+"\s*\/>/, '<pause />');
  assert.notEqual(text, src, 'siprec-basic.xml no longer has the pcap and pause this rewrites');
  await writeFile(path, text);
}

/**
 * Removes the `<name>_<pid>_errors.log` files SIPp leaves in sip-scenarios/ when a call of scenario
 * `<name>.xml` failed (only this name's: a test file running alongside keeps its own).
 */
export async function removeSippErrorLogs(name: string): Promise<void> {
  const logs = new RegExp(`^${name.replace(/[^\w-]/g, '\\$&')}_\\d+_errors\\.log$`);
  for (const f of await readdir(SCENARIOS).catch(() => [] as string[]))
    if (logs.test(f)) await rm(join(SCENARIOS, f), { force: true });
}

/** `srs recordings list --json` run as a user would, against the server's data directory. */
export async function listRecordings(server: TestServer): Promise<ListedRecording[]> {
  const r = await run(process.execPath, [SRS_BIN, 'recordings', 'list', '--json'], { env: server.env });
  assert.equal(r.code, 0, `srs recordings list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ListedRecording[];
}

/** Polls the catalogue until the call's recording reaches `state` (fails fast on 'failed'). */
export async function waitForState(
  server: TestServer,
  callId: string,
  state: string,
): Promise<ListedRecording> {
  const deadline = Date.now() + 60000;
  for (;;) {
    const rec = (await listRecordings(server)).find((r) => r.callId === callId);
    if (rec?.state === state) return rec;
    if (rec?.state === 'failed' || Date.now() > deadline) {
      assert.fail(
        `recording for ${callId} is ${rec?.state ?? 'missing'}, wanted ${state}\n${server.output().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
