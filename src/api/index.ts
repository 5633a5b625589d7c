import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { SessionStats } from '../media/types.js';
import type { Database } from '../store/db.js';
import type { ArtifactStore } from '../storage/index.js';
import { participantFilter, type Principal } from '../store/users.js';
import { ArtifactReader, type PrivateKeyLoader } from './artifacts.js';
import { Authenticator } from './auth.js';
import { instrument, type Ops, type OpsSources } from './ops.js';
import { buildApi, type ApiDeps } from './routes.js';
import { AudioAccess, type PermissionLevel } from './access.js';
import { DEFAULT_SETTINGS } from './kit.js';
import { ensureFirstAdmin } from './server.js';

export { startHttpServer, ensureFirstAdmin } from './server.js';
export { Authenticator } from './auth.js';

/** Where `npm run build:web` puts the console. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

export interface ConsoleApiOptions {
  db: Database;
  live: OpsSources['live'];
  stats: (recordingId: string) => SessionStats | undefined;
  dataDir: string;
  /** Wipes a failed recording's spool when it is deleted (the pipeline's wipeDir). */
  wipeDir?: ApiDeps['wipeDir'];
  /** Where the encrypted artifacts are read from (docs/storage.md); default: the data directory. */
  artifacts?: ArtifactStore;
  adminToken: string;
  adminPassword?: string | undefined;
  sessionTtlMinutes: number;
  /** Absolute session lifetime (hours; default 12). */
  sessionMaxHours?: number;
  /** Accept `?token=<API token>` on the monitor WebSocket. */
  wsQueryToken?: boolean;
  /** Closes monitor sockets when access changes (the monitor's revoke), wired after it starts. */
  revoke?: ApiDeps['revoke'];
  accessChanged?: ApiDeps['accessChanged'];
  /** The LDAP directory, when one is configured (docs/access-security.md#ldap-directory). */
  directory?: ApiDeps['directory'];
  directoryDisableMissing?: boolean | undefined;
  /** Unlocks the recording private key; null when the server has no passphrase (no playback). */
  loadKey: PrivateKeyLoader | null;
  jobs?: OpsSources['jobs'];
  sipResponses?: OpsSources['sipResponses'];
  monitor?: OpsSources['monitor'];
  /** Delivery status (src/delivery's deliveryStatus over db.offload), for GET /api/v1/delivery. */
  deliveryStatus?: ApiDeps['deliveryStatus'];
  /** The running delivery services when any is enabled (POST /api/v1/delivery/retry); 503 without. */
  delivery?: ApiDeps['delivery'];
  /** Recording control of live calls. */
  control?: ApiDeps['control'];
  /** The recording policy at run time. */
  policy?: ApiDeps['policy'];
  /** The retention policy at run time. */
  retention?: ApiDeps['retention'];
  /** The node registry. */
  cluster?: ApiDeps['cluster'];
  /** WAV -> MP3 with the pipeline's settings (interactions joined into one file). */
  encodeMp3?: ApiDeps['encodeMp3'];
  /** Key generation and background re-encryption; absent when the server holds no passphrase. */
  keys?: ApiDeps['keys'];
  loginThrottle?: ApiDeps['loginThrottle'];
  log: Logger;
}

export interface ConsoleApi {
  api: ReturnType<typeof buildApi>;
  auth: Authenticator;
  ops: Ops;
  /** The one access path for audio, shared by the API and the monitor's listen-in. */
  access: AudioAccess;
  /** The live-call filter of a principal, for the monitor. */
  filterFor: (who: Principal) => ReturnType<typeof participantFilter>;
  /** Set when this start created the first admin without SRS_ADMIN_PASSWORD (print it once). */
  generatedAdminPassword?: string | undefined;
}

/** Builds the REST API, its authentication, the first admin user and the metrics. */
export async function buildConsoleApi(o: ConsoleApiOptions): Promise<ConsoleApi> {
  const sessionTtlMs = o.sessionTtlMinutes * 60_000;
  const sessionMaxMs = (o.sessionMaxHours ?? 12) * 3600_000;
  const generatedAdminPassword = await ensureFirstAdmin(o.db.users, o.db.audit, o.adminPassword, o.log);
  const auth = new Authenticator({
    users: o.db.users,
    adminToken: o.adminToken,
    sessionTtlMs,
    sessionMaxMs,
    wsQueryToken: o.wsQueryToken ?? false,
  });
  const setting = async (key: string): Promise<PermissionLevel> =>
    (await o.db.users.getSetting<PermissionLevel>(key)) ??
    (DEFAULT_SETTINGS as Record<string, PermissionLevel>)[key] ??
    'nobody';
  const access = new AudioAccess({ audit: o.db.audit, level: (p) => setting(`permissions.${p}`) });
  const ops = instrument({
    live: o.live,
    stats: o.stats,
    jobs: o.jobs,
    sipResponses: o.sipResponses,
    monitor: o.monitor,
  });
  const throttled = ops.metrics.counter(
    'srs_login_throttled_total',
    'Login and own-password attempts refused by the throttle (429), by route.',
  );
  const api = buildApi({
    db: o.db,
    auth,
    live: o.live,
    stats: o.stats,
    artifacts: new ArtifactReader(o.artifacts ?? o.dataDir, o.loadKey),
    dataDir: o.dataDir,
    wipeDir: o.wipeDir,
    sessionTtlMs,
    sessionMaxMs,
    access,
    revoke: (m) => o.revoke?.(m),
    accessChanged: () => o.accessChanged?.(),
    directory: o.directory,
    directoryDisableMissing: o.directoryDisableMissing,
    deliveryStatus: o.deliveryStatus,
    delivery: o.delivery,
    control: o.control,
    policy: o.policy,
    retention: o.retention,
    cluster: o.cluster,
    encodeMp3: o.encodeMp3,
    keys: o.keys,
    throttled: (route) => throttled(1, { route }),
    loginThrottle: o.loginThrottle,
    log: o.log,
  });
  return {
    api,
    auth,
    ops,
    access,
    filterFor: (who) => participantFilter(o.db.users, who),
    generatedAdminPassword,
  };
}
