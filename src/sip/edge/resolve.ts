import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { dialogDestination, type Dialog } from './dialogs.js';
import { getParam, parseSipUri } from './message.js';
import type { Peer } from './transactions.js';
import type { TransportName } from './transport.js';

/**
 * Where the edge sends what it originates (DNS and transport choice), apart from the transaction
 * and dialog logic: an address literal is used as it is, a name is resolved (A/AAAA, first
 * answer; no SRV or NAPTR: SIPREC peers are configured by address or plain host name).
 */

/** The address of a host: itself when it is an IP literal, else its first DNS answer. */
export async function resolveHost(host: string): Promise<string> {
  return net.isIP(host) ? host : (await lookup(host)).address;
}

/**
 * The peer of a request within dialog `d`: its remote target (or route), except that a peer that
 * reached us over TCP or TLS gets its requests on that connection while it lasts (RFC 3261 18,
 * RFC 5923). Its Contact names where it listens, not the port it connected from, and a new TLS
 * connection to it would be verified against the system CAs, without a client certificate.
 * A TLS peer keeps its connection whatever transport its Contact names: nothing in the dialog
 * leaves the secure connection while it is open.
 */
export async function dialogPeer(
  d: Dialog,
  hasConnection: (transport: TransportName, address: string, port: number) => boolean,
): Promise<Peer> {
  let dest: { host: string; port: number; transport?: 'udp' | 'tcp' };
  try {
    dest = dialogDestination(d);
  } catch {
    return d.peer;
  }
  const transport = dest.transport ?? d.peer.transport;
  const reuse = d.peer.transport === 'tls' || (d.peer.transport === 'tcp' && transport === 'tcp');
  if (reuse && hasConnection(d.peer.transport, d.peer.address, d.peer.port)) return d.peer;
  return { transport, address: await resolveHost(dest.host), port: dest.port };
}

/** The peer of an out-of-dialog request to `uri` (`;transport=tcp` or UDP, port 5060 by default). */
export async function uriPeer(uri: string): Promise<Peer> {
  const target = parseSipUri(uri);
  const t = getParam(target.params, 'transport')?.toLowerCase();
  const transport: TransportName = t === 'tcp' ? 'tcp' : 'udp';
  return { transport, address: await resolveHost(target.host), port: target.port ?? 5060 };
}
