/**
 * The embedded SIP server ("edge"): SIP over UDP/TCP on one side, the drachtio control protocol
 * on the other, so that an unmodified drachtio-srf app connects to it as to drachtio-server.
 */
import os from 'node:os';
import { ConfigError } from '../../errors.js';
import { ControlServer } from './control.js';
import { EdgeCore } from './core.js';
import { SipTransport } from './transport.js';
import type { TransportName } from './transport.js';
import type { SipEdge, SipEdgeOptions } from './types.js';

export type { EdgeLogger, SipEdge, SipEdgeOptions } from './types.js';
export type { TlsContext } from './transport.js';
export { parseMessage, serializeMessage, frameStream } from './message.js';
export type { SipMessage, SipRequest, SipResponse, SipHeader } from './message.js';

/** Version reported to apps; drachtio-srf enables pings from v0.8.2 on. */
export const EDGE_VERSION = 'v0.9.10-srs-edge';

function advertisedAddress(host: string, publicAddress?: string): string {
  if (publicAddress) return publicAddress;
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export async function startSipEdge(opts: SipEdgeOptions): Promise<SipEdge> {
  const transports: TransportName[] = opts.sip.transports?.length ? [...opts.sip.transports] : ['udp', 'tcp'];
  if (!opts.control.secret) throw new ConfigError('sip edge: control.secret must not be empty');
  const t1 = opts.timers?.t1 ?? 500;
  const t2 = opts.timers?.t2 ?? 4000;
  if (!(t1 > 0) || !(t2 >= t1)) throw new ConfigError('sip edge: timers need t1 > 0 and t2 >= t1');
  const advertised = advertisedAddress(opts.sip.host, opts.sip.publicAddress);
  const { log } = opts;

  // The core needs the transport and the control server, and both deliver into the core.
  const ref: { core?: EdgeCore } = {};
  const transport = await SipTransport.start({
    host: opts.sip.host,
    port: opts.sip.port,
    transports,
    tls: opts.sip.tls,
    tlsClient: opts.sip.tlsClient,
    limits: opts.sip.limits,
    allowSource: opts.sip.allowSource,
    inUse: (t, address, port) => ref.core?.carriesDialog(t, address, port) ?? false,
    log,
    onMessage: (m) => ref.core?.onNetwork(m),
  });
  let control: ControlServer;
  try {
    control = await ControlServer.start({
      host: opts.control.host,
      port: opts.control.port,
      secret: opts.control.secret,
      version: EDGE_VERSION,
      hostports: () =>
        [
          ...['tcp', 'udp']
            .filter((t) => transports.includes(t as TransportName))
            .map((t) => `${t}/${advertised}:${transport.port}`),
          ...(transport.tlsPort ? [`tls/${advertised}:${transport.tlsPort}`] : []),
        ].join(','),
      log,
      handlers: {
        onSip: (conn, msgId, leader, sip) => ref.core?.onAppSip(conn, msgId, leader, sip),
        onClose: (conn) => ref.core?.onAppClose(conn),
      },
    });
  } catch (err) {
    await transport.close();
    throw err;
  }
  const responsesSent = new Map<number, number>();
  const core = new EdgeCore({
    log,
    timers: { t1, t2, t4: t1 >= 500 ? 5000 : 10 * t1 },
    advertised,
    port: () => transport.port,
    tlsPort: () => transport.tlsPort,
    send: (peer, data, onError) => {
      // Count responses by status for /metrics ("SIP/2.0 NNN ..."; retransmissions included).
      if (data.length > 12 && data[0] === 0x53 && data.toString('latin1', 0, 8) === 'SIP/2.0 ') {
        const code = Number(data.toString('latin1', 8, 11));
        responsesSent.set(code, (responsesSent.get(code) ?? 0) + 1);
      }
      return transport.send(peer.transport, peer.address, peer.port, data, onError);
    },
    hasConnection: (t, a, p) => transport.hasConnection(t, a, p),
    appsFor: (m) => control.appsFor(m),
  });
  log.info(
    {
      sip: `${opts.sip.host}:${transport.port}`,
      transports,
      tls: transport.tlsPort ? `${opts.sip.host}:${transport.tlsPort}` : 'off',
      control: `${opts.control.host}:${control.port}`,
    },
    'sip edge listening',
  );

  ref.core = core;
  let closing: Promise<void> | undefined;
  return {
    get sipPort() {
      return transport.port;
    },
    get tlsPort() {
      return transport.tlsPort;
    },
    get controlPort() {
      return control.port;
    },
    responsesSent,
    get connectionLimits() {
      return { ...transport.guard.counters, open: transport.guard.openConnections };
    },
    get byeFallback() {
      return { ...core.byeFallback };
    },
    tlsSubject: (address, port) => transport.tlsSubject(address, port),
    setTls: (c) => transport.setTls(c),
    close() {
      closing ??= (async () => {
        core.close();
        await Promise.all([control.close(), transport.close()]);
      })();
      return closing;
    },
  };
}
