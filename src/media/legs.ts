/**
 * Legs checked and mapped for the addon (leg ids, ports, payload types, SRTP parameters, checked
 * without ever putting a key into a message), and the addon's session stats mapped back.
 */
import type { LegSpec, PayloadKind, PayloadSpec, SessionStats, SrtpParams, SrtpSuite } from './types.js';
import { DECODABLE } from './types.js';
import type { NativeLegSpec, NativeSessionStats } from './addon.js';

/** A leg id: a safe file name (it names the leg's spool). */
export const LEG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const CODECS: ReadonlySet<string> = new Set<string>([...DECODABLE, 'telephone-event', 'CN']);
const LEGACY_KINDS: Readonly<Record<PayloadKind, Required<PayloadSpec>>> = {
  PCMU: { codec: 'PCMU', clockRate: 8000, channels: 1, fmtp: '' },
  PCMA: { codec: 'PCMA', clockRate: 8000, channels: 1, fmtp: '' },
  'telephone-event': { codec: 'telephone-event', clockRate: 8000, channels: 1, fmtp: '' },
  CN: { codec: 'CN', clockRate: 8000, channels: 1, fmtp: '' },
};

/** Master key + salt lengths (RFC 3711, RFC 6188, RFC 7714) of each suite. */
export const SRTP_KEY_SALT_BYTES: Readonly<Record<SrtpSuite, number>> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AES_256_CM_HMAC_SHA1_80: 46,
  AES_256_CM_HMAC_SHA1_32: 46,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

/** One payload type's meaning as the addon takes it (old PayloadKind strings map to 8 kHz specs). */
export function normalizePayload(
  legId: string,
  pt: string,
  v: PayloadKind | PayloadSpec,
): Required<PayloadSpec> {
  if (typeof v === 'string') {
    const legacy = LEGACY_KINDS[v];
    if (!legacy)
      throw new RangeError(`leg ${legId}: unknown payload kind ${String(v)} for payload type ${pt}`);
    return legacy;
  }
  if (typeof v !== 'object' || v === null || !CODECS.has(v.codec))
    throw new RangeError(
      `leg ${legId}: unknown codec ${String((v as { codec?: unknown })?.codec)} for payload type ${pt}`,
    );
  if (!Number.isInteger(v.clockRate) || v.clockRate < 1000 || v.clockRate > 192000)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad clock rate ${String(v.clockRate)}`);
  const channels = v.channels ?? 1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 8)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad channel count ${String(v.channels)}`);
  const fmtp = v.fmtp ?? '';
  if (typeof fmtp !== 'string' || fmtp.length > 1000)
    throw new RangeError(`leg ${legId}: payload type ${pt} has a bad fmtp`);
  return { codec: v.codec, clockRate: v.clockRate, channels, fmtp };
}

/** Checks SRTP parameters without ever putting the key into a message. */
export function validateSrtp(legId: string, srtp: SrtpParams): void {
  const want = SRTP_KEY_SALT_BYTES[srtp.suite];
  if (want === undefined) throw new RangeError(`leg ${legId}: unknown SRTP suite ${String(srtp.suite)}`);
  if (!Buffer.isBuffer(srtp.keySalt) || srtp.keySalt.length !== want)
    throw new RangeError(`leg ${legId}: ${srtp.suite} needs a ${want}-byte master key and salt`);
  if (srtp.mki !== undefined) {
    const { value, length } = srtp.mki;
    if (!Number.isInteger(length) || length < 1 || length > 4)
      throw new RangeError(`leg ${legId}: SRTP MKI length must be 1..4 bytes`);
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * length))
      throw new RangeError(`leg ${legId}: SRTP MKI value does not fit its length`);
  }
}

export function toNativeLeg(l: LegSpec): NativeLegSpec {
  const payloadTypes: Record<number, Required<PayloadSpec>> = {};
  for (const [pt, v] of Object.entries(l.payloadTypes))
    payloadTypes[Number(pt)] = normalizePayload(l.legId, pt, v);
  // What the addon takes of a leg: its socket, payload types, SRTP key and ingress trust (latching).
  return {
    legId: l.legId,
    port: l.port,
    payloadTypes,
    ...(l.srtp ? { srtp: l.srtp } : {}),
    ...(l.remoteHost ? { remoteHost: l.remoteHost } : {}),
    ...(l.remotePort ? { remotePort: l.remotePort } : {}),
    ...(l.relatchMs ? { relatchMs: l.relatchMs } : {}),
  };
}

export function validateLegs(legs: readonly LegSpec[]): void {
  if (legs.length === 0) throw new RangeError('a session needs at least one leg');
  const ids = new Set<string>();
  const ports = new Set<number>();
  for (const leg of legs) {
    if (!LEG_ID.test(leg.legId))
      throw new RangeError(`legId is not a safe file name: ${JSON.stringify(leg.legId)}`);
    if (ids.has(leg.legId)) throw new RangeError(`duplicate legId ${leg.legId}`);
    ids.add(leg.legId);
    if (!Number.isInteger(leg.port) || leg.port < 2 || leg.port > 65534 || leg.port % 2 !== 0) {
      throw new RangeError(`leg ${leg.legId}: RTP port must be an even integer in 2..65534, got ${leg.port}`);
    }
    if (ports.has(leg.port)) throw new RangeError(`port ${leg.port} is used by two legs`);
    ports.add(leg.port);
    for (const [pt, kind] of Object.entries(leg.payloadTypes)) {
      const n = Number(pt);
      if (!Number.isInteger(n) || n < 0 || n > 127)
        throw new RangeError(`leg ${leg.legId}: bad payload type ${pt}`);
      normalizePayload(leg.legId, pt, kind);
    }
    if (leg.srtp !== undefined) validateSrtp(leg.legId, leg.srtp);
  }
}

export function toSessionStats(s: NativeSessionStats): SessionStats {
  return {
    recordingId: s.recordingId,
    openedAt: new Date(s.openedAtMs),
    legs: s.legs.map((l) => ({
      legId: l.legId,
      packetsReceived: l.packetsReceived,
      packetsLost: l.packetsLost,
      packetsDuplicate: l.packetsDuplicate,
      packetsLate: l.packetsLate,
      packetsIgnored: l.packetsIgnored,
      ssrcs: l.ssrcs,
      firstPacketMs: l.firstPacketMs,
      spoolErrors: l.spoolErrors,
      packetsRejected: l.packetsRejected ?? 0,
      spoolDamagedMs: l.spoolDamagedMs ?? 0,
      spoolDamagedSpansMs: l.spoolDamagedSpansMs ?? [],
      ssrcsOverflow: l.ssrcsOverflow ?? 0,
      reanchors: l.reanchors,
      aheadMs: l.aheadMs,
      jitterMs: l.jitterMs,
      packetsPaused: l.packetsPaused,
      rtcpPackets: l.rtcpPackets,
      dtmf: l.dtmf,
      srtpAuthFailures: l.srtpAuthFailures,
      srtpReplayDrops: l.srtpReplayDrops,
      packetsUndecodable: l.packetsUndecodable,
      codecs: l.codecs,
    })),
  };
}
