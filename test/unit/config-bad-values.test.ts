import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigFile } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

/**
 * Bad values for the settings of docs/configuration.md: each is refused by loadConfig with one
 * line naming the setting, the value and what is expected, never accepted as something else.
 */

type Env = Record<string, string>;

/** loadConfig must throw a one-line ConfigError matching every pattern. */
function refused(env: Env, file: unknown, ...patterns: RegExp[]): string {
  let message = '';
  assert.throws(
    () => loadConfig(env, file as ConfigFile),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
      message = err.message;
      return true;
    },
    `accepted ${JSON.stringify(env)} ${JSON.stringify(file)}`,
  );
  assert.doesNotMatch(message, /\n/, `more than one line: ${message}`);
  for (const p of patterns) assert.match(message, p);
  return message;
}
const badEnv = (env: Env, ...patterns: RegExp[]) => refused(env, {}, ...patterns);
const badFile = (file: unknown, ...patterns: RegExp[]) => refused({}, file, ...patterns);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'srs-config-bad-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration: bad values are refused, naming setting, value and expectation', () => {
  it('says it in one line: the setting, its variable, what is expected and the value given', () => {
    badEnv(
      { SIP_PORT: '70000' },
      /^invalid configuration: sip\.port: expected a port number from 1 to 65535, got SIP_PORT="70000"$/,
    );
    const m = badEnv({ SIP_PORT: 'x', SRS_MAX_SESSIONS: 'abc' }, /SIP_PORT/, /SRS_MAX_SESSIONS/);
    assert.match(m, /got SRS_MAX_SESSIONS="abc"/);
    badFile(
      { sip: { port: 70000 } },
      /^invalid configuration: sip\.port: expected a port number .*, got 70000$/,
    );
    badEnv({ LOG_LEVEL: 'verbose' }, /LOG_LEVEL/, /expected one of fatal, error, warn, info/, /"verbose"/);
  });

  it('never echoes a secret', () => {
    const m = badEnv({ SRS_CLUSTER_SECRET: 'tiny-secret' }, /SRS_CLUSTER_SECRET/);
    assert.doesNotMatch(m, /tiny-secret/);
    const u = badEnv({ DATABASE_URL: 'mysql://root:hunter2@db/x' }, /DATABASE_URL/, /postgres/);
    assert.doesNotMatch(u, /hunter2/);
  });

  it('booleans: true/1 or false/0, anything else refused (was: silently false)', () => {
    badEnv({ SRS_METRICS_PUBLIC: 'maybe' }, /SRS_METRICS_PUBLIC/, /"maybe"/, /true or false/);
    badEnv({ SRS_WS_QUERY_TOKEN: 'yes' }, /SRS_WS_QUERY_TOKEN/);
    badFile({ http: { metricsPublic: 1 } }, /http\.metricsPublic/);
    badEnv({ SRS_RTCP: 'maybe' }, /SRS_RTCP/);
    badEnv(
      { S3_FORCE_PATH_STYLE: 'maybe', SRS_STORAGE: 's3', S3_BUCKET: 'ok-bucket' },
      /S3_FORCE_PATH_STYLE/,
    );
    const c = loadConfig({ SRS_METRICS_PUBLIC: '1', SRS_WS_QUERY_TOKEN: 'false' });
    assert.equal(c.http.metricsPublic, true);
    assert.equal(c.http.wsQueryToken, false);
    assert.equal(loadConfig({}, { http: { metricsPublic: true } }).http.metricsPublic, true);
  });

  it('numbers: a decimal number only (was: true=1, null=0, ""=0, [5]=5, " "=0, 0x1f90=8080)', () => {
    badFile({ sip: { port: true } }, /sip\.port/, /got true/);
    badFile({ limits: { maxCallsPerSecond: null } }, /limits\.maxCallsPerSecond/);
    badFile({ security: { maxSessionsPerSource: '' } }, /security\.maxSessionsPerSource/);
    badFile({ limits: { maxSessions: [5] } }, /limits\.maxSessions/);
    badFile({ notifications: { maxAttachmentBytes: null } }, /notifications\.maxAttachmentBytes/);
    badFile({ offload: { intervalMinutes: true } }, /offload\.intervalMinutes/);
    badEnv({ SRS_MAX_SESSIONS_PER_SOURCE: ' ' }, /SRS_MAX_SESSIONS_PER_SOURCE/);
    badEnv({ SRS_MAX_CPS: ' ' }, /SRS_MAX_CPS/);
    badEnv({ SIP_PORT: '0x1f90' }, /SIP_PORT/);
    badEnv({ SRS_MAX_SESSIONS: '12.5' }, /SRS_MAX_SESSIONS/, /whole number/);
    badEnv({ SRS_MAX_CPS: '1e999' }, /SRS_MAX_CPS/);
    badEnv({ SRS_PIPELINE_CPU_SHARE: 'abc' }, /SRS_PIPELINE_CPU_SHARE/, /expected a number from 0\.05 to 1/);
    const file = { sip: { port: '5070' } } as unknown as ConfigFile;
    const c = loadConfig({ SRS_MAX_CPS_PER_SOURCE: '2.5', SRS_MAX_SESSIONS: ' 40 ' }, file);
    assert.equal(c.security.maxCallsPerSecondPerSource, 2.5);
    assert.equal(c.limits.maxSessions, 40);
    assert.equal(c.sip.port, 5070);
  });

  it('numbers: bounded where a huge value breaks a timer, native arithmetic or a date', () => {
    // setTimeout fires after 1 ms above 2^31-1 ms: every SIP TCP connection was closed at once.
    badEnv({ SIP_HEADER_TIMEOUT_MS: '3000000000' }, /SIP_HEADER_TIMEOUT_MS/);
    // T2 (4 s) must stay at or above T1; below 50 ms the retransmissions would flood.
    badEnv({ SIP_T1_MS: '4001' }, /SIP_T1_MS/, /50 to 4000/);
    badEnv({ SIP_T1_MS: '10' }, /SIP_T1_MS/);
    badEnv({ SRS_SESSION_EXPIRES: '3000000', SRS_MIN_SE: '90' }, /SRS_SESSION_EXPIRES/);
    badEnv({ SRS_RTP_RELATCH_MS: '9007199254740991' }, /SRS_RTP_RELATCH_MS/);
    // 1e20 days is an invalid Date: every purge pass failed in Postgres.
    badEnv({ SRS_RETENTION: '99999999999999999999d' }, /SRS_RETENTION/);
    badEnv({ SRS_RETENTION_GROUPS: 'sales=9999999h' }, /SRS_RETENTION_GROUPS/);
    for (const [k, v] of Object.entries({
      SRS_MAX_SESSIONS: '99999999999',
      SRS_MAX_CPS: '99999999999999999999',
      SRS_MAX_SESSIONS_PER_SOURCE: '99999999999',
      SRS_RTP_TIMEOUT: '99999999999999999999',
      SRS_MAX_DURATION: '99999999999999999999',
      SIP_MAX_CONNECTIONS: '99999999999',
      SIP_MAX_HEADER_BYTES: '99999999999',
      SRS_MIN_FREE_MB: '99999999999999999999',
      SRS_HANDOFF_RETRY_LIMIT: '99999999999',
    }))
      badEnv({ [k]: v }, new RegExp(`got ${k}=`));
    assert.equal(loadConfig({ SRS_RETENTION: '36500d' }).retention.default, '36500d');
  });

  it('maximum call length: above what the audio files hold is refused, naming the setting and the limit', () => {
    // Spool offsets are 32-bit sample counts (149.1 h at 8 kHz): 30 days was taken, and every
    // hour past 149 h was dropped from the recording without a word.
    for (const v of ['536401', '2592000'])
      badEnv(
        { SRS_MAX_DURATION: v },
        /^SRS_MAX_DURATION \(security\.maxDurationSeconds\) /,
        new RegExp(`${v} s is above 536400 s \\(149 h\\)`),
        /set at most 536400/,
      );
    badFile(
      { security: { maxDurationSeconds: 600000 } },
      /security\.maxDurationSeconds\) 600000 s is above 536400 s/,
    );
    // The stereo WAV (two channels) is refused by the mixer above 4 GiB: 74.5 h.
    const stereo = { SRS_OUTPUTS: 'mono,stereo' };
    badEnv({ ...stereo, SRS_MAX_DURATION: '266401' }, /above 266400 s \(74 h\)/, /stereo WAV holds \(4 GiB/);
    assert.equal(loadConfig({ ...stereo, SRS_MAX_DURATION: '266400' }).security.maxDurationSeconds, 266400);
    assert.equal(loadConfig({ SRS_MAX_DURATION: '536400' }).security.maxDurationSeconds, 536400);
    // 0 (no limit of one's own) ends the call where the files end, not beyond.
    assert.equal(loadConfig({ SRS_MAX_DURATION: '0' }).security.maxDurationSeconds, 536400);
    // A stored file is read back into one buffer (4 GiB at most on Node.js 20): an MP3 of a high
    // bit rate reaches that before the samples end. Before, a 100 h call at 320 kbit/s was stored
    // (14.4 GB) and could never be played, downloaded or exported.
    const hifi = { SRS_MP3_SAMPLE_RATE: '44100', SRS_MP3_BITRATE: '320' };
    badEnv(
      { ...hifi, SRS_MAX_DURATION: '360000' },
      /above 104400 s \(29 h\), the longest call a 320 kbit\/s MP3 may take \(4 GiB/,
      /set at most 104400, or a lower SRS_MP3_BITRATE/,
    );
    assert.equal(loadConfig({ ...hifi, SRS_MAX_DURATION: '0' }).security.maxDurationSeconds, 104400);
    const wide = { SRS_MP3_SAMPLE_RATE: '16000', SRS_MP3_BITRATE: '128' };
    badEnv({ ...wide, SRS_MAX_DURATION: '266401' }, /above 266400 s \(74 h\), the longest call a 128 kbit/);
    // At 8 kHz (64 kbit/s at most) the samples still end first.
    assert.equal(
      loadConfig({ SRS_MP3_BITRATE: '64', SRS_MAX_DURATION: '0' }).security.maxDurationSeconds,
      536400,
    );
    assert.equal(loadConfig({ ...stereo, SRS_MAX_DURATION: '0' }).security.maxDurationSeconds, 266400);
  });

  it('ports: 1-65535 for every port (SIP_TLS_PORT took 0, a random port), none taken twice', () => {
    badEnv({ SIP_TLS_PORT: '0' }, /SIP_TLS_PORT/);
    badEnv({ DRACHTIO_PORT: '70000' }, /DRACHTIO_PORT/);
    badEnv({ HTTP_PORT: 'x' }, /HTTP_PORT/);
    // Two of our own listeners on one port: EADDRINUSE at start, naming no setting.
    badEnv({ HTTP_PORT: '5060' }, /^HTTP_PORT 5060 is also SIP_PORT/);
    const tls = { SIP_TLS_CERT: '/c.pem', SIP_TLS_KEY: '/k.pem' };
    badEnv({ ...tls, SIP_TLS_PORT: '8080' }, /^HTTP_PORT 8080 is also SIP_TLS_PORT/);
    // Different addresses, or no embedded SIP edge: no conflict.
    assert.equal(
      loadConfig({ SIP_HOST: '127.0.0.2', HTTP_HOST: '127.0.0.1', HTTP_PORT: '5060' }).http.port,
      5060,
    );
    const external = { DRACHTIO_HOST: '127.0.0.1', DRACHTIO_SECRET: 's', HTTP_PORT: '5060' };
    assert.equal(loadConfig(external).http.port, 5060);
  });

  it('addresses: an IP address or a host name where one is put on the wire or bound', () => {
    badEnv({ SIP_HOST: 'not a host!' }, /SIP_HOST/, /"not a host!"/);
    badEnv({ SIP_HOST: ' ' }, /SIP_HOST/);
    badEnv({ HTTP_HOST: 'not a host!' }, /HTTP_HOST/);
    badEnv({ SRS_MEDIA_ADDRESS: 'not an address!' }, /SRS_MEDIA_ADDRESS/);
    badEnv({ SRS_PUBLIC_ADDRESS: '999.1.1.1' }, /SRS_PUBLIC_ADDRESS/);
    badEnv({ DRACHTIO_HOST: 'drachtio host', DRACHTIO_SECRET: 's' }, /DRACHTIO_HOST/);
    // The media engine binds an IP literal only.
    badEnv({ RTP_BIND_ADDRESS: 'localhost' }, /RTP_BIND_ADDRESS/, /IP address/);
    const c = loadConfig({
      SIP_HOST: 'localhost',
      SRS_PUBLIC_ADDRESS: 'sbc.example.com',
      RTP_BIND_ADDRESS: '::',
    });
    assert.equal(c.sip.publicAddress, 'sbc.example.com');
  });

  it('address lists: malformed or empty entries refused', () => {
    // Proxies are matched by address only: a CIDR or a name never matched.
    badEnv({ SRS_TRUST_PROXY: '10.0.0.0/8' }, /SRS_TRUST_PROXY/, /"10\.0\.0\.0\/8"/);
    badEnv({ SRS_TRUST_PROXY: 'proxy.example' }, /SRS_TRUST_PROXY/);
    assert.deepEqual(loadConfig({ SRS_TRUST_PROXY: 'loopback, 192.0.2.1' }).http.trustProxy, [
      'loopback',
      '192.0.2.1',
    ]);
    // An empty allowlist refused every call.
    badEnv({ SRS_SRC_ALLOW: ' , ' }, /SRS_SRC_ALLOW/);
    badFile({ security: { srcAllow: [] } }, /srcAllow/);
    badEnv({ SRS_RETENTION_GROUPS: '=30d' }, /SRS_RETENTION_GROUPS/);
    badEnv({ SRS_RETENTION_GROUPS: 'a=1d,a=2d' }, /SRS_RETENTION_GROUPS/, /"a"/);
    badEnv({ SRS_HOOK_ENV: 'GOOD,1BAD' }, /SRS_HOOK_ENV/, /"1BAD"/);
  });

  it('the config file: an object of known settings of the right types', () => {
    badFile(null, /config file/, /object/);
    badFile([], /config file/, /object/);
    badFile(42, /config file/);
    badFile({ sip: 'x' }, /sip/, /object/);
    badFile({ storage: 's3' }, /storage/, /object/);
    badFile({ sip: { prot: 5070 } }, /sip\.prot/, /unknown/);
    badFile({ sipp: { port: 5070 } }, /sipp/, /unknown/);
    badFile({ dataDir: 5 }, /dataDir/);
    badFile({ logLevel: 5 }, /logLevel/);
  });

  it('a typo at any depth is refused, not dropped with its default left in force', () => {
    const sftp = {
      type: 'sftp',
      host: 'h',
      username: 'u',
      password: 'p',
      directory: '/d',
      knownHostsFile: '/k',
    };
    const local = { type: 'local', directory: '/x' };
    badFile(
      { export: { enabled: true, primary: local, secundary: sftp } },
      /export\.secundary/,
      /unknown|unrecognized/i,
    );
    badFile(
      { export: { enabled: true, primary: { ...local, directroy: '/y' } } },
      /export\.primary\.directroy/,
    );
    badFile(
      { offload: { enabled: true, audio: { ...sftp, hostKeySHA256: 'SHA256:x' } } },
      /offload\.audio\.hostKeySHA256/,
    );
    badFile({ notifications: { smtp: { host: 'm', prot: 25 } } }, /notifications\.smtp\.prot/);
    badFile(
      { notifications: { groups: { sales: { subjekt: 'x' } } } },
      /notifications\.groups\.sales\.subjekt/,
    );
    badFile({ storage: { objectLock: { mode: 'COMPLIANCE', dayz: 30 } } }, /storage\.objectLock\.dayz/);
    badFile({ directory: { attributes: { usernam: 'uid' } } }, /directory\.attributes\.usernam/);
  });

  it('an SFTP destination without a pinned host key is refused at start, not at each delivery', () => {
    const sftp = { host: 'h', username: 'u', password: 'hunter2-secret', directory: '/d' };
    const message = badFile({ offload: { enabled: true, audio: sftp } }, /offload\.audio/, /knownHostsFile/);
    assert.doesNotMatch(message, /hunter2/, 'the password is not echoed');
    badFile(
      { export: { enabled: true, primary: { type: 'sftp', ...sftp } } },
      /export\.primary/,
      /hostKeySha256/,
    );
    assert.doesNotThrow(() =>
      loadConfig({}, {
        offload: { enabled: true, audio: { ...sftp, insecureAcceptAnyHostKey: true } },
      } as ConfigFile),
    );
  });

  it('the data directory: one the server can create (under /proc, mkdir -p spun forever)', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const dangling = join(dir, 'dangling');
    symlinkSync(join(dir, 'nowhere'), dangling);
    badEnv({ SRS_DATA_DIR: '/proc/srs-data' }, /SRS_DATA_DIR/, /\/proc/);
    badEnv({ SRS_DATA_DIR: join(file, 'data') }, /SRS_DATA_DIR/, /not a directory/);
    badEnv({ SRS_DATA_DIR: file }, /SRS_DATA_DIR/, /not a directory/);
    badEnv({ SRS_DATA_DIR: join(dangling, 'data') }, /SRS_DATA_DIR/, /symbolic link/);
    assert.equal(loadConfig({ SRS_DATA_DIR: join(dir, 'new', 'data') }).dataDir, join(dir, 'new', 'data'));
  });

  it('programs and PEM files: there and usable (were found missing at the first recording)', () => {
    badEnv({ SRS_FFMPEG_PATH: '/nonexistent/ffmpeg' }, /SRS_FFMPEG_PATH/, /\/nonexistent\/ffmpeg/);
    badEnv({ SRS_HOOK_COMMAND: '/nonexistent/hook' }, /SRS_HOOK_COMMAND/);
    badEnv({ SRS_HOOK_COMMAND: 'no-such-program-srs' }, /SRS_HOOK_COMMAND/, /PATH/);
    badEnv({ SRS_HOOK_COMMAND: dir }, /SRS_HOOK_COMMAND/);
    assert.equal(loadConfig({ SRS_FFMPEG_PATH: process.execPath }).pipeline.ffmpegPath, process.execPath);
    assert.equal(
      loadConfig({ SRS_HOOK_COMMAND: 'sh', PATH: process.env.PATH ?? '' }).pipeline.hookCommand,
      'sh',
    );

    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=srs',
    ], { stdio: 'ignore' }); // prettier-ignore
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello\n');
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    badEnv({ SIP_TLS_CERT: notPem, SIP_TLS_KEY: key }, /SIP_TLS_CERT/);
    badEnv({ SIP_TLS_CERT: '/nonexistent/c.pem', SIP_TLS_KEY: key }, /SIP_TLS_CERT/, /ENOENT/);
    badEnv({ HTTP_TLS_CERT: cert, HTTP_TLS_KEY: '/nonexistent/k.pem' }, /HTTP_TLS_KEY/);
    badEnv({ SIP_TLS_CERT: cert, SIP_TLS_KEY: key, SIP_TLS_CA: notPem }, /SIP_TLS_CA/);
    assert.equal(loadConfig({ SIP_TLS_CERT: cert, SIP_TLS_KEY: key, SIP_TLS_CA: cert }).sip.tlsCaFile, cert);
    assert.equal(loadConfig({ HTTP_TLS_CERT: cert, HTTP_TLS_KEY: key }).http.tlsKeyFile, key);
  });

  it('MP3: a bitrate LAME writes at the sample rate (was: 33 -> 32, 320 at 8 kHz -> 64, 160 at 16 kHz failed every encode)', () => {
    badEnv(
      { SRS_MP3_BITRATE: '33' },
      /^invalid configuration: pipeline\.mp3Bitrate: expected one of 8, 16, 24, 32, 40, 48, 56, 64 kbit\/s at 8000 Hz/,
      /got SRS_MP3_BITRATE="33"$/,
    );
    badEnv({ SRS_MP3_BITRATE: '320' }, /SRS_MP3_BITRATE/, /at 8000 Hz/);
    badEnv(
      { SRS_MP3_BITRATE: '160', SRS_MP3_SAMPLE_RATE: '16000' },
      /SRS_MP3_BITRATE/,
      /112, 128 kbit\/s at 16000 Hz/,
    );
    badFile({ pipeline: { mp3Bitrate: 16, mp3SampleRate: 44100 } }, /pipeline\.mp3Bitrate/, /got 16$/);
    const hi = loadConfig({ SRS_MP3_BITRATE: '320', SRS_MP3_SAMPLE_RATE: '44100' }).pipeline;
    assert.deepEqual([hi.mp3Bitrate, hi.mp3SampleRate], [320, 44100]);
    assert.equal(loadConfig({}).pipeline.mp3Bitrate, 32);
  });

  it('the rest: database URL, first admin password, S3 region', () => {
    badEnv({ DATABASE_URL: 'notaurl' }, /DATABASE_URL/);
    assert.equal(
      loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/srs' }).databaseUrl,
      'postgres://u:p@db:5432/srs',
    );
    // The API refuses passwords under 8 characters; the first admin's was taken as it came.
    badEnv({ SRS_ADMIN_PASSWORD: 'x' }, /SRS_ADMIN_PASSWORD/, /8/);
    badEnv({ SRS_STORAGE: 's3', S3_BUCKET: 'ok-bucket', S3_REGION: ' ' }, /S3_REGION/);
  });

  it('the HTTP health check reserve: a whole number from 0 to 1000, 8 by default', () => {
    badEnv({ SRS_HTTP_HEALTH_RESERVE: '-1' }, /http\.healthReserve/, /from 0 to 1000/, /"-1"/);
    badEnv({ SRS_HTTP_HEALTH_RESERVE: '2.5' }, /SRS_HTTP_HEALTH_RESERVE/);
    assert.equal(loadConfig({}).http.healthReserve, 8);
    assert.equal(loadConfig({ SRS_HTTP_HEALTH_RESERVE: '0' }).http.healthReserve, 0);
  });

  it('hook jobs at once: a whole number from 1 to 64, 4 by default', () => {
    badEnv(
      { SRS_HOOK_CONCURRENCY: '0' },
      /pipeline\.hookConcurrency/,
      /SRS_HOOK_CONCURRENCY/,
      /from 1 to 64/,
    );
    badEnv({ SRS_HOOK_CONCURRENCY: '65' }, /SRS_HOOK_CONCURRENCY/);
    badEnv({ SRS_HOOK_CONCURRENCY: '2.5' }, /SRS_HOOK_CONCURRENCY/);
    badFile({ pipeline: { hookConcurrency: 'many' } }, /hookConcurrency/);
    assert.equal(loadConfig({}).pipeline.hookConcurrency, 4);
    assert.equal(loadConfig({ SRS_HOOK_CONCURRENCY: '16' }).pipeline.hookConcurrency, 16);
    assert.equal(loadConfig({}, { pipeline: { hookConcurrency: 1 } }).pipeline.hookConcurrency, 1);
  });

  it('hook timeout: a whole number of seconds from 1 to 600, 30 by default', () => {
    badEnv(
      { SRS_HOOK_TIMEOUT_SECONDS: '0' },
      /pipeline\.hookTimeoutSeconds/,
      /SRS_HOOK_TIMEOUT_SECONDS/,
      /from 1 to 600/,
    );
    badEnv({ SRS_HOOK_TIMEOUT_SECONDS: '601' }, /SRS_HOOK_TIMEOUT_SECONDS/, /from 1 to 600/);
    badEnv({ SRS_HOOK_TIMEOUT_SECONDS: 'x' }, /SRS_HOOK_TIMEOUT_SECONDS/, /"x"/);
    badFile({ pipeline: { hookTimeoutSeconds: 1.5 } }, /hookTimeoutSeconds/);
    assert.equal(loadConfig({}).pipeline.hookTimeoutSeconds, 30);
    assert.equal(loadConfig({ SRS_HOOK_TIMEOUT_SECONDS: '1' }).pipeline.hookTimeoutSeconds, 1);
    assert.equal(loadConfig({ SRS_HOOK_TIMEOUT_SECONDS: '600' }).pipeline.hookTimeoutSeconds, 600);
    assert.equal(loadConfig({}, { pipeline: { hookTimeoutSeconds: 5 } }).pipeline.hookTimeoutSeconds, 5);
  });
});
