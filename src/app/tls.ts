/**
 * The TLS of the two listeners (SIP over TLS, HTTPS): the protocol policy both serve, their PEM
 * files read at start, and a reload of those files while the server runs (SIGHUP, src/cli.ts).
 */
import { X509Certificate } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import type { Config } from '../config.js';
import type { TlsPolicy } from '../config/tls-policy.js';
import { tlsProblems } from '../config/files.js';
import { readSettingFileText } from '../config/setting-file.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../api/metrics.js';
import type { SipEdge } from '../sip/edge/index.js';
import type { Defer } from './shutdown.js';

/**
 * The TLS policy (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS; default TLS 1.2 and 1.3 with ECDHE and
 * AEAD suites only, src/config/tls-policy.ts) of both listeners and of the TLS connections the
 * server opens. Set explicitly on each context, so that neither NODE_OPTIONS (--tls-min-v1.0) nor
 * an OpenSSL configuration can lower it.
 */
export function tlsPolicy(config: Pick<Config, 'security'>): TlsPolicy {
  return { minVersion: config.security.tlsMinVersion, ciphers: config.security.tlsCiphers };
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string | undefined;
}

/** The files of the SIP TLS listener, or undefined when it is off; errors name the file. */
export async function readSipTls(config: Config): Promise<TlsFiles | undefined> {
  const s = config.sip;
  if (!s.tlsCertFile || !s.tlsKeyFile) return undefined;
  const pem = (file: string, what: string): Promise<string> =>
    readSettingFileText(file).catch((err: Error) => {
      throw new Error(`cannot read the SIP TLS ${what} ${file}: ${err.message}`);
    });
  return {
    cert: await pem(s.tlsCertFile, 'certificate'),
    key: await pem(s.tlsKeyFile, 'key'),
    ca: s.tlsCaFile ? await pem(s.tlsCaFile, 'client CA') : undefined,
  };
}

/** The files of the HTTPS listener, or undefined when it serves plain HTTP. */
export async function readHttpTls(config: Config): Promise<TlsFiles | undefined> {
  const h = config.http;
  if (!h.tlsCertFile || !h.tlsKeyFile) return undefined;
  return { cert: await readSettingFileText(h.tlsCertFile), key: await readSettingFileText(h.tlsKeyFile) };
}

/** What the problems of one listener's files are, each `<SETTING>: <problem>`; empty when none. */
function problems(
  files: { cert: string; key: string; ca?: string | undefined },
  names: [string, string, string],
): string[] {
  const p = tlsProblems(files.cert, files.key, files.ca);
  return [
    ...(p.cert ? [`${names[0]}: ${p.cert}`] : []),
    ...(p.key ? [`${names[1]}: ${p.key}`] : []),
    ...(p.ca ? [`${names[2]}: ${p.ca}`] : []),
  ];
}

const described = (pem: string): { subject: string; notAfter: string; fingerprint256: string } => {
  const c = new X509Certificate(pem);
  return { subject: c.subject.replace(/\n/g, ', '), notAfter: c.validTo, fingerprint256: c.fingerprint256 };
};

const DAY_MS = 86_400_000;

/**
 * When the certificate each TLS listener serves ends: `srs_tls_certificate_expiry_timestamp_seconds`
 * in /metrics, and a warning at start, at each reload and once a day when it has expired or ends
 * within 14 days (an expired certificate was served without a word, and SRCs that verify it refuse
 * every call).
 */
export class TlsCertificates {
  readonly #seen = new Map<string, { setting: string; notAfter: number; subject: string }>();
  constructor(private readonly log: Logger) {}

  /** `pem` is what `listener` serves from now on (its `setting` names the file). */
  note(listener: string, setting: string, pem: string, now = Date.now()): void {
    let c: X509Certificate;
    try {
      c = new X509Certificate(pem);
    } catch {
      return; // checked at start (src/config/files.ts): not reached
    }
    this.#seen.set(listener, {
      setting,
      notAfter: Date.parse(c.validTo),
      subject: c.subject.replace(/\n/g, ', '),
    });
    this.check(now, listener);
  }

  /** Warns for each certificate (or `only` one) that has expired or ends within 14 days. */
  check(now = Date.now(), only?: string): void {
    for (const [listener, c] of this.#seen) {
      if (only !== undefined && listener !== only) continue;
      const fields = {
        listener,
        setting: c.setting,
        subject: c.subject,
        notAfter: new Date(c.notAfter).toISOString(),
      };
      if (c.notAfter <= now)
        this.log.error(
          fields,
          `the TLS certificate of ${c.setting} has expired: SRCs and browsers that verify it refuse it`,
        );
      else if (c.notAfter - now < 14 * DAY_MS)
        this.log.warn(
          { ...fields, days: Math.floor((c.notAfter - now) / DAY_MS) },
          `the TLS certificate of ${c.setting} expires soon`,
        );
    }
  }

  metrics(m: Metrics): void {
    m.collect(
      'srs_tls_certificate_expiry_timestamp_seconds',
      'When the certificate each TLS listener (label listener: sip, http) serves ends, in seconds since the epoch.',
      'gauge',
      () =>
        [...this.#seen].map(([listener, c]) => ({
          labels: { listener },
          value: Math.floor(c.notAfter / 1000),
        })),
    );
  }
}

/** The certificates served at start: noted, in /metrics, checked once a day. Stops with the server. */
export async function watchTlsCertificates(
  config: Config,
  m: Metrics,
  log: Logger,
  defer: Defer,
): Promise<TlsCertificates> {
  const certs = new TlsCertificates(log);
  const sip = await readSipTls(config).catch(() => undefined);
  if (sip) certs.note('sip', 'SIP_TLS_CERT', sip.cert);
  const http = await readHttpTls(config).catch(() => undefined);
  if (http) certs.note('http', 'HTTP_TLS_CERT', http.cert);
  certs.metrics(m);
  const daily = setInterval(() => certs.check(), DAY_MS);
  daily.unref();
  defer(() => clearInterval(daily));
  return certs;
}

/**
 * Reads the certificate, key (and client CA) files of every TLS listener again and serves them
 * from the next handshake on: a renewed certificate needs no restart (SIGHUP). Files that are
 * missing, unreadable or do not go together leave that listener with the ones in use, and the
 * error line names the setting. Logs one line per listener. Resolves to whether all went well.
 */
export async function reloadTls(
  config: Config,
  parts: { edge: SipEdge | null; https: TlsServer | null; certs?: TlsCertificates },
  log: Logger,
): Promise<boolean> {
  let ok = true;
  const one = async (
    listener: string,
    settings: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
    names: [string, string, string],
    apply: (f: TlsFiles) => void,
  ): Promise<void> => {
    if (!settings.cert || !settings.key) return;
    const files = { cert: settings.cert, key: settings.key, ca: settings.ca };
    const wrong = problems(files, names);
    try {
      if (wrong.length > 0) throw new Error(wrong.join('; '));
      const f = listener === 'sip' ? await readSipTls(config) : await readHttpTls(config);
      if (!f) return;
      apply(f);
      log.info({ listener, ...described(f.cert) }, 'TLS certificate reloaded');
      parts.certs?.note(listener, names[0], f.cert);
    } catch (err) {
      ok = false;
      log.error(
        { listener, err: (err as Error).message },
        'TLS certificate reload failed: the certificate in use stays',
      );
    }
  };
  if (parts.edge && config.sip.tlsCertFile)
    await one(
      'sip',
      { cert: config.sip.tlsCertFile, key: config.sip.tlsKeyFile, ca: config.sip.tlsCaFile },
      ['SIP_TLS_CERT', 'SIP_TLS_KEY', 'SIP_TLS_CA'],
      (f) => parts.edge?.setTls({ ...f, ...tlsPolicy(config) }),
    );
  if (parts.https)
    await one(
      'http',
      { cert: config.http.tlsCertFile, key: config.http.tlsKeyFile },
      ['HTTP_TLS_CERT', 'HTTP_TLS_KEY', 'HTTP_TLS_CA'],
      (f) =>
        parts.https?.setSecureContext({
          cert: f.cert,
          key: f.key,
          ...tlsPolicy(config),
          honorCipherOrder: true,
        }),
    );
  if (!parts.https && !(parts.edge && config.sip.tlsCertFile))
    log.info('SIGHUP: no TLS certificate to reload (SIP_TLS_CERT and HTTP_TLS_CERT are not set)');
  return ok;
}
