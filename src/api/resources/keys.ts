import { z } from 'zod';
import { NotFoundError, SrsError } from '../../errors.js';
import type { KeyRecord } from '../../store/types.js';
import { HttpError, badRequest, conflict, notFound, sendJson } from '../http.js';
import type { Kit } from '../kit.js';
import { need, route, type RouteDef } from '../table.js';

/**
 * The recording encryption keys (admins; every call is audited): list, generate, activate,
 * retire, and the background re-encryption of a retired key's recordings to the active key (seed
 * 002's key rotation and re-encryption, from the console). Generating and re-encrypting use the
 * server's key passphrase (503 when it holds none); the private keys stay in this node's
 * `<dataDir>/keys` as with `srs keys`.
 */

/** A polling read of the key list is audited at most this often per session. */
const REFRESH_AUDIT_MS = 600_000;

/** What the server does with keys beyond the catalogue (app wiring; absent without a passphrase). */
export interface KeysPort {
  /** Generates a key pair under the server's passphrase and records it (active or not). */
  generate(type: 'rsa4096' | 'curve25519', activate: boolean): Promise<{ fingerprint: string; ms: number }>;
  /** Wakes the background re-encryption (a request was just recorded). */
  reencrypt(): void;
}

/** The path's fingerprint, upper case; 400 unless it is 40 hex digits. */
function fingerprintOf(params: Record<string, string | undefined>): string {
  const fp = params.fingerprint ?? '';
  if (!/^[0-9A-Fa-f]{40}$/.test(fp))
    throw badRequest(`"${fp.slice(0, 80)}" is not a key fingerprint (40 hex digits)`);
  return fp.toUpperCase();
}

const publicKey = (k: KeyRecord) => ({
  fingerprint: k.fingerprint,
  algorithm: k.algorithm,
  createdAt: k.createdAt,
  active: k.active,
  retiredAt: k.retiredAt ?? null,
  privateInCatalogue: k.privateInCatalogue ?? false,
  ...(k.files === undefined ? {} : { files: k.files }),
  reencrypt: k.reencrypt ?? null,
});

/** A store refusal as an HTTP answer: unknown key 404, a refused change 409. */
function mapKeyError(err: unknown): never {
  if (err instanceof NotFoundError) throw notFound(err.message);
  if (err instanceof SrsError && /^ERR_KEY_/.test(err.code)) throw conflict(err.message);
  throw err;
}

export function keyRoutes({ d, audit }: Kit): RouteDef[] {
  const port = (): KeysPort => {
    if (!d.keys)
      throw new HttpError(503, 'this server holds no key passphrase (SRS_KEY_PASSPHRASE): use srs keys');
    return d.keys;
  };
  /** Sessions whose polling read of the list was audited, and when (see GET /keys). */
  const refreshed = new Map<string, number>();
  const listed = async (fp: string) => {
    const k = (await d.db.keys.list()).find((x) => x.fingerprint === fp);
    if (!k) throw notFound(`no key ${fp} in the catalogue`);
    return k;
  };
  return [
    route({
      method: 'GET',
      path: '/keys',
      summary:
        'Encryption keys, newest first, with their file counts and re-encryption state (audited; refresh=1, a page polling progress, at most once per session per 10 minutes)',
      role: 'admin',
      query: z.object({ refresh: z.enum(['0', '1']).optional() }),
      async handler(ctx, { query }) {
        const keys = await d.db.keys.list();
        // A console polling a re-encryption every 2 s would write an entry each time.
        const who = need(ctx);
        const session = `${who.username}\u0000${who.sessionId ?? ''}`;
        const now = Date.now();
        const last = refreshed.get(session);
        if (query.refresh !== '1' || last === undefined || now - last > REFRESH_AUDIT_MS) {
          await audit(ctx, 'key.list', 'key', '', { count: keys.length });
          if (query.refresh === '1') refreshed.set(session, now);
          for (const [k, at] of refreshed) if (now - at > REFRESH_AUDIT_MS) refreshed.delete(k);
        }
        sendJson(ctx.res, 200, { items: keys.map(publicKey) });
      },
    }),
    route({
      method: 'POST',
      path: '/keys',
      summary:
        'Generate a key pair under the server passphrase (RSA 4096 by default), active unless activate is false; 503 without a passphrase',
      role: 'admin',
      response: { status: 201 },
      body: z.object({
        type: z.enum(['rsa4096', 'curve25519']).default('rsa4096'),
        activate: z.boolean().default(true),
      }),
      async handler(ctx, { body }) {
        const g = await port().generate(body.type, body.activate);
        await audit(ctx, 'key.generate', 'key', g.fingerprint, { type: body.type, active: body.activate });
        sendJson(ctx.res, 201, publicKey(await listed(g.fingerprint)));
      },
    }),
    route({
      method: 'POST',
      path: '/keys/:fingerprint/activate',
      summary: 'Encrypt new recordings to this key (every node, from its next job); 409 for a retired key',
      role: 'admin',
      async handler(ctx, { params }) {
        const fp = fingerprintOf(params);
        await d.db.keys.activate(fp).catch(mapKeyError);
        await audit(ctx, 'key.activate', 'key', fp);
        sendJson(ctx.res, 200, publicKey(await listed(fp)));
      },
    }),
    route({
      method: 'POST',
      path: '/keys/:fingerprint/retire',
      summary:
        'Retire a key (never used again; 409 for the active key); reencrypt moves its recordings to the active key in the background (again, for a retired key)',
      role: 'admin',
      body: z.object({ reencrypt: z.boolean().default(false) }),
      async handler(ctx, { params, body }) {
        const fp = fingerprintOf(params);
        if (body.reencrypt) port();
        const changed = await d.db.keys.retire(fp).catch(mapKeyError);
        if (changed) await audit(ctx, 'key.retire', 'key', fp, { reencrypt: body.reencrypt });
        if (body.reencrypt) {
          await d.db.keys.requestReencrypt(fp, need(ctx).username).catch(mapKeyError);
          await audit(ctx, 'key.reencrypt.request', 'key', fp);
          port().reencrypt();
        }
        sendJson(ctx.res, 200, publicKey(await listed(fp)));
      },
    }),
  ];
}
