/**
 * A listener that cannot open its port (taken, or refused to this user) said in the operator's
 * words: the setting, the port and the address, instead of the bare `listen EADDRINUSE ...`.
 */

const REASONS: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'may not be opened by this user (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'cannot be opened: the address is not one of this host',
};

/**
 * `err` with the setting named when it is a listen/bind error on one of `ports` (`[setting, port,
 * what]`, e.g. `['SIP_PORT', 5060, 'udp']`); any other error unchanged.
 */
export function listenError(err: unknown, ports: readonly [string, number, string][]): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const reason = e?.code ? REASONS[e.code] : undefined;
  if (!reason) return err;
  const udp = e.syscall === 'bind';
  const match =
    ports.find(([, port, what]) => port === e.port && (what === 'udp') === udp) ??
    ports.find(([, port]) => port === e.port) ??
    (ports.length === 1 ? ports[0] : undefined);
  if (!match) return err;
  const [setting, port, what] = match;
  return new Error(`${setting} ${port} (${what}) ${reason} on ${e.address ?? 'this host'}: ${e.code}`, {
    cause: err,
  });
}
