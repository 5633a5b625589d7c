/**
 * The fault: a server whose open-files limit runs out answered calls it could not record. Under
 * `prlimit --nofile=256`, 300 SIPp calls with RTP (sip-scenarios/siprec-load.xml, 100 calls/s)
 * left 108 of 202 answered recordings damaged ("spool writes failed", their audio lost) and 11
 * finalize failures. Now every call the server answers is recorded whole and stored, and the
 * calls it has no descriptors for are refused with 503 (src/recording/descriptor-guard.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, run, startTestServer, type TestServer } from '../helpers/server.js';
import { SCENARIOS, removeSippErrorLogs } from '../helpers/sipp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LIMIT = 256;

describe('open-files limit: calls past it are refused, never answered and lost', { timeout: 240000 }, () => {
  let server: TestServer;
  const logged = (msg: string) =>
    server
      .output()
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}`)).length;

  before(async () => {
    server = await startTestServer({}, undefined, { nofile: LIMIT });
    await server.waitFor(/SIPREC recording server ready/, 60000);
  });
  after(async () => {
    await server?.stop();
    await removeSippErrorLogs('siprec-load');
  });

  it('answers only the calls it can record, stores each whole, and says 503 to the rest', async (t) => {
    const metrics = async () =>
      (
        await fetch(`http://127.0.0.1:${server.httpPort}/metrics`, {
          headers: { authorization: `Bearer ${server.token}` },
        })
      ).text();
    assert.match(await metrics(), new RegExp(`^process_max_fds ${LIMIT}$`, 'm'), 'the limit applies');
    const sipp = await run(
      'sipp',
      [
        ...['-sf', 'siprec-load.xml', '-s', 'srs', '-i', '127.0.0.1', '-p', String(await freePort(true))],
        ...['-mp', String(42000 + 4 * Math.floor(Math.random() * 4000))],
        ...['-r', '100', '-m', '300', '-l', '300', '-timeout', '90s', '-nostdin'],
        `127.0.0.1:${server.sipPort}`,
      ],
      { cwd: SCENARIOS, timeoutMs: 120000 },
    );
    const stat = (label: string) =>
      Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(sipp.stdout)?.[1] ?? NaN);
    const ok = stat('Successful call');
    const failed = stat('Failed call');
    assert.equal(ok + failed, 300, sipp.stdout.slice(-1500));
    // Every answered call is stored.
    const answered = logged('SIPREC session answered');
    for (const end = Date.now() + 60000; logged('recording stored') < answered; await sleep(250))
      if (Date.now() > end) assert.fail(`${logged('recording stored')} of ${answered} stored`);
    assert.equal(server.proc.exitCode, null, 'the server runs');
    assert.equal(answered, ok, 'SIPp counted every answered call successful');
    assert.ok(ok >= 50, `calls up to the limit are taken: ${ok}`);
    assert.ok(failed > 0, 'the limit was reached (else this test proves nothing)');
    assert.equal(logged('recording damaged'), 0, 'no answered call lost its audio');
    assert.equal(logged('finalize failed'), 0);
    assert.equal(logged('INVITE handler failed'), 0, 'refusals are answers, not failures');
    const refused = /^srs_sip_responses_total\{code="503"\} (\d+)$/m.exec(await metrics())?.[1];
    assert.ok(Number(refused) >= failed, `503 sent ${refused} times for ${failed} refused calls`);
    t.diagnostic(`${ok} calls answered and stored whole, ${failed} refused (503 sent ${refused} times)`);
    const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`);
    assert.equal(health.status, 200, 'ready again once the calls have ended');
  });
});
