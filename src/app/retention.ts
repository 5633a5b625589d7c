import type { RetentionPort } from '../api/resources/retention.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import {
  newlyDue,
  parseRetention,
  policyInMs,
  retentionProblem,
  type RetentionPolicy,
} from '../pipeline/index.js';
import type { Database } from '../store/db.js';
import { LiveSetting } from '../store/live-setting.js';

export const RETENTION_SETTING_KEY = 'retention.policy';

/** Recordings a change's preview looks at, oldest first (a count past it is a lower bound). */
const PREVIEW_LIMIT = 100_000;

/**
 * The retention policy at run time: a live setting (the `settings` row `retention.policy`) over
 * the configured one (SRS_RETENTION, SRS_RETENTION_GROUPS), read by every purge pass and by the
 * Object Lock of each upload; the API's port onto it (src/api/resources/retention.ts).
 */
export async function startRetentionPolicy(
  configured: Config['retention'],
  db: Pick<Database, 'users' | 'retention'>,
  log: Logger,
): Promise<{ live: LiveSetting<RetentionPolicy>; port: RetentionPort }> {
  const live = new LiveSetting<RetentionPolicy>({
    key: RETENTION_SETTING_KEY,
    defaults: { default: configured.default, groups: { ...configured.groups } },
    settings: db.users,
    parse: parseRetention,
    log,
  });
  await live.init();
  const port: RetentionPort = {
    get value() {
      return { default: live.value.default, groups: { ...live.value.groups } };
    },
    get defaults() {
      return { default: live.defaults.default, groups: { ...live.defaults.groups } };
    },
    get saved() {
      return live.saved;
    },
    intervalSeconds: configured.intervalSeconds,
    problem: retentionProblem,
    async newlyDue(next) {
      const now = Date.now();
      // Due under the new policy (up to PREVIEW_LIMIT of them), of which those not due already.
      const candidates = await db.retention.candidates(policyInMs(next), new Date(now), PREVIEW_LIMIT);
      return newlyDue(candidates, live.value, next, now);
    },
    save: (p, by) => live.save(p, by),
    reset: (by) => live.reset(by),
  };
  return { live, port };
}
