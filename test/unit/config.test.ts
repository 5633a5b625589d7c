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
});
