/**
 * The LDAP directory over ldaps:// and StartTLS follows the TLS policy (SRS_TLS_MIN_VERSION,
 * SRS_TLS_CIPHERS): a real OpenLDAP slapd held to TLS 1.2 (GnuTLS priority NORMAL:-VERS-TLS1.3) is
 * refused under TLSv1.3, before the bind (no password sent), with a message naming the setting;
 * under the default policy the same server answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { directorySchema } from '../../src/config/directory-schema.js';
import { DEFAULT_TLS_CIPHERS } from '../../src/config/tls-policy.js';
import { ldapDirectory } from '../../src/directory/ldap.js';
import { directorySettings, personDn, personLdif, startSlapd, type Slapd } from '../helpers/slapd.js';

const ANN = { uid: 'ann', cn: 'Ann Lee', password: 'ann-directory-pw' };
const TLS13 = { minVersion: 'TLSv1.3' as const, ciphers: DEFAULT_TLS_CIPHERS };

describe('directory TLS policy (real slapd held to TLS 1.2)', { timeout: 60000 }, () => {
  let slapd: Slapd;
  before(async () => {
    slapd = await startSlapd([personLdif(ANN)], { tlsCipherSuite: 'NORMAL:-VERS-TLS1.3' });
  });
  after(async () => {
    await slapd?.stop();
  });
  const settings = (more: Record<string, unknown>) =>
    directorySchema.parse(directorySettings(slapd, { caFile: slapd.certFile, ...more }));

  it('ldaps and StartTLS are refused under TLSv1.3, naming SRS_TLS_MIN_VERSION', async () => {
    for (const s of [settings({ url: slapd.ldapsUrl }), settings({ url: slapd.url, startTls: true })]) {
      const dir = ldapDirectory(s, TLS13);
      await assert.rejects(dir.people(), (err: Error) => {
        assert.equal(err.name, 'DirectoryError');
        assert.match(err.message, /TLS.*SRS_TLS_MIN_VERSION \(TLSv1\.3\) and SRS_TLS_CIPHERS/);
        return true;
      });
      await assert.rejects(dir.authenticate(personDn(ANN), ANN.password), /SRS_TLS_MIN_VERSION \(TLSv1\.3\)/);
    }
  });

  it('the same server answers under the default policy', async () => {
    for (const s of [settings({ url: slapd.ldapsUrl }), settings({ url: slapd.url, startTls: true })]) {
      const dir = ldapDirectory(s);
      assert.deepEqual(
        (await dir.people()).map((p) => p.username),
        ['ann'],
      );
      assert.equal(await dir.authenticate(personDn(ANN), ANN.password), true);
    }
  });
});
