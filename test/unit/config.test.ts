import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('gives the embedded defaults with an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.sip.port, 5060);
    assert.equal(c.http.port, 8080);
    assert.match(c.dataDir, /\/data$/);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.drachtio.host, undefined);
    assert.equal(c.pipeline.mp3SampleRate, 8000);
    assert.equal(c.pipeline.ffmpegPath, undefined);
    assert.equal(loadConfig({ SRS_FFMPEG_PATH: process.execPath }).pipeline.ffmpegPath, process.execPath);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.sip));
  });

  it('lets the environment override the file, and the file the defaults', () => {
    const c = loadConfig(
      { SIP_PORT: '5080' },
      { sip: { port: 5070, host: '127.0.0.1' }, http: { port: 9000 } },
    );
    assert.equal(c.sip.port, 5080);
    assert.equal(c.sip.host, '127.0.0.1');
    assert.equal(c.http.port, 9000);
  });

  it('names every invalid setting', () => {
    assert.throws(
      () => loadConfig({ SIP_PORT: 'seventy', RTP_PORT_MIN: '20001', SRS_MP3_SAMPLE_RATE: '12345' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /sip\.port/.test(err.message) &&
        /media\.portMin/.test(err.message) &&
        /mp3SampleRate/.test(err.message),
    );
  });

  it('requires a secret for an external drachtio-server', () => {
    assert.throws(() => loadConfig({ DRACHTIO_HOST: '10.0.0.5' }), /DRACHTIO_SECRET/);
    const c = loadConfig({ DRACHTIO_HOST: '127.0.0.1', DRACHTIO_SECRET: 's', DRACHTIO_PORT: '9023' });
    assert.deepEqual({ ...c.drachtio }, { host: '127.0.0.1', port: 9023, secret: 's' });
  });

  it('SRS_SRTP: accept by default, require or off, anything else named', () => {
    assert.equal(loadConfig({}).sip.srtp, 'accept');
    assert.equal(loadConfig({ SRS_SRTP: 'require' }).sip.srtp, 'require');
    assert.equal(loadConfig({}, { sip: { srtp: 'off' } }).sip.srtp, 'off');
    assert.throws(
      () => loadConfig({ SRS_SRTP: 'yes' }),
      (err: unknown) => err instanceof ConfigError && /sip\.srtp/.test(err.message),
    );
  });

  it('SRS_SDES_REQUIRE_TLS, SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS: defaults, values, refusals named', () => {
    const c = loadConfig({});
    assert.equal(c.sip.sdesRequireTls, false);
    assert.equal(c.security.tlsMinVersion, 'TLSv1.2');
    assert.match(c.security.tlsCiphers, /^TLS_AES_128_GCM_SHA256:.*ECDHE-RSA-AES128-GCM-SHA256/);
    assert.equal(loadConfig({ SRS_SDES_REQUIRE_TLS: 'true' }).sip.sdesRequireTls, true);
    assert.equal(loadConfig({ SRS_TLS_MIN_VERSION: 'TLSv1.3' }).security.tlsMinVersion, 'TLSv1.3');
    assert.equal(
      loadConfig({ SRS_TLS_CIPHERS: 'ECDHE-RSA-AES256-GCM-SHA384, TLS_AES_256_GCM_SHA384' }).security
        .tlsCiphers,
      'ECDHE-RSA-AES256-GCM-SHA384:TLS_AES_256_GCM_SHA384',
    );
    assert.equal(
      loadConfig({ SRS_TLS_CIPHERS: 'ECDHE+AESGCM:!aNULL' }).security.tlsCiphers,
      'ECDHE+AESGCM:!aNULL',
    );
    for (const [env, re] of [
      [
        { SRS_TLS_MIN_VERSION: 'TLSv1.1' },
        /security\.tlsMinVersion: expected TLSv1\.2 or TLSv1\.3 .*SRS_TLS_MIN_VERSION=/,
      ],
      [{ SRS_TLS_MIN_VERSION: 'TLSv1' }, /security\.tlsMinVersion: .*RFC 8996/],
      [
        { SRS_TLS_CIPHERS: 'NOT-A-CIPHER' },
        /security\.tlsCiphers: OpenSSL .* knows no cipher NOT-A-CIPHER.*SRS_TLS_CIPHERS=/,
      ],
      // A typo next to a good name: OpenSSL alone would quietly keep the good one.
      [
        { SRS_TLS_CIPHERS: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA348' },
        /knows no cipher ECDHE-RSA-AES256-GCM-SHA348/,
      ],
      [{ SRS_TLS_CIPHERS: '!aNULL:!eNULL' }, /security\.tlsCiphers: OpenSSL refuses the list/],
      [{ SRS_SDES_REQUIRE_TLS: 'maybe' }, /sip\.sdesRequireTls: expected true or false/],
    ] as const)
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && re.test(err.message),
        JSON.stringify(env),
      );
  });

  it('gives the security defaults (docs/security.md)', () => {
    const c = loadConfig({});
    assert.equal(c.security.srcAllow, undefined, 'unset: loopback and private ranges, with a warning');
    assert.equal(c.security.maxStreamsPerSession, 8);
    assert.equal(c.security.rtpTimeoutSeconds, 60);
    assert.equal(c.security.maxDurationSeconds, 6 * 3600);
    assert.equal(c.security.sessionExpiresSeconds, 1800);
    assert.equal(c.security.minSessionExpiresSeconds, 90);
    assert.equal(c.security.rtpRelatchMs, 5000);
    assert.equal(c.security.maxHeaderBytes, 16 * 1024);
    assert.equal(c.security.minFreeMb, 1024);
    assert.equal(c.security.hardFreeMb, 128);
    assert.equal(c.sip.tlsCaFile, undefined);
  });

  it('reads the security settings from the environment', () => {
    const c = loadConfig({
      SRS_SRC_ALLOW: '10.0.0.0/8, 192.0.2.7,2001:db8::/32',
      SRS_MAX_STREAMS: '4',
      SRS_MAX_SESSIONS_PER_SOURCE: '10',
      SRS_MAX_CPS_PER_SOURCE: '2.5',
      SRS_RTP_RELATCH_MS: '0',
      SRS_RTP_TIMEOUT: '5',
      SRS_MAX_DURATION: '60',
      SRS_SESSION_EXPIRES: '300',
      SRS_MIN_SE: '120',
      SIP_MAX_CONNECTIONS: '100',
      SIP_MAX_CONNECTIONS_PER_ADDRESS: '5',
      SIP_MAX_HEADER_BYTES: '8192',
      SIP_HEADER_TIMEOUT_MS: '2000',
      SRS_MIN_FREE_MB: '500',
      SRS_HARD_FREE_MB: '50',
    });
    assert.deepEqual(c.security.srcAllow, ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    assert.equal(c.security.maxStreamsPerSession, 4);
    assert.equal(c.security.maxCallsPerSecondPerSource, 2.5);
    assert.equal(c.security.rtpRelatchMs, 0);
    assert.equal(c.security.minSessionExpiresSeconds, 120);
    assert.equal(c.security.maxConnectionsPerAddress, 5);
    assert.equal(c.security.hardFreeMb, 50);
    assert.deepEqual(loadConfig({ SRS_SRC_ALLOW: 'any' }).security.srcAllow, ['any']);
  });

  it('refuses unusable security settings with a clear message', () => {
    assert.throws(() => loadConfig({ SRS_SRC_ALLOW: '10.0.0.0/33' }), /SRS_SRC_ALLOW="10\.0\.0\.0\/33"/);
    assert.throws(() => loadConfig({ SRS_SRC_ALLOW: 'pbx.example.com' }), /not an address or CIDR/);
    assert.throws(() => loadConfig({ SRS_SRC_ALLOW: 'any,10.0.0.1' }), /`any` stands alone/);
    assert.throws(() => loadConfig({ SRS_MIN_FREE_MB: '10', SRS_HARD_FREE_MB: '20' }), /SRS_HARD_FREE_MB/);
    assert.throws(() => loadConfig({ SRS_SESSION_EXPIRES: '100', SRS_MIN_SE: '200' }), /SRS_MIN_SE/);
    assert.throws(() => loadConfig({ SIP_TLS_CA: '/ca.pem' }), /SIP_TLS_CA needs SIP_TLS_CERT/);
    assert.throws(() => loadConfig({ SRS_MAX_STREAMS: '0' }), /maxStreamsPerSession/);
  });
});
