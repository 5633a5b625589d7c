import type pg from 'pg';

/**
 * The web console's language at its three levels: the user's own, the default of the user's
 * group, and the site's default (the `settings` row `console.language`). The first one set
 * applies; with none set the console follows the browser.
 */

/** The console's languages (web/src/i18n.ts has the same list). */
export const CONSOLE_LANGUAGES = ['en', 'es', 'fr', 'pt-BR', 'ru'] as const;
export type ConsoleLanguage = (typeof CONSOLE_LANGUAGES)[number];
export const SITE_LANGUAGE_KEY = 'console.language';

export interface LanguageLevels {
  user: ConsoleLanguage | null;
  /** The user's group and its default. */
  group: { name: string; language: ConsoleLanguage | null } | null;
  site: ConsoleLanguage | null;
}

export interface LanguagesRepository {
  /** The levels that apply to a user (`null`: the admin token, which has no user row). */
  levels(userId: string | null): Promise<LanguageLevels>;
  /** False when there is no such user. */
  setUser(userId: string, language: ConsoleLanguage | null): Promise<boolean>;
  /** False when there is no such group. */
  setGroup(name: string, language: ConsoleLanguage | null): Promise<boolean>;
  /** Each group's default (groups without one are left out). */
  groups(): Promise<Map<string, ConsoleLanguage>>;
}

const known = (v: unknown): ConsoleLanguage | null =>
  typeof v === 'string' && (CONSOLE_LANGUAGES as readonly string[]).includes(v)
    ? (v as ConsoleLanguage)
    : null;

/** The language that applies, and at which level it was set (`null`: none, the browser decides). */
export function effectiveLanguage(l: LanguageLevels): {
  language: ConsoleLanguage | null;
  from: 'user' | 'group' | 'site' | null;
} {
  if (l.user) return { language: l.user, from: 'user' };
  if (l.group?.language) return { language: l.group.language, from: 'group' };
  if (l.site) return { language: l.site, from: 'site' };
  return { language: null, from: null };
}

export function languagesRepository(pool: pg.Pool): LanguagesRepository {
  return {
    async levels(userId) {
      const site = await pool.query<{ value: unknown }>('SELECT value FROM settings WHERE key = $1', [
        SITE_LANGUAGE_KEY,
      ]);
      const out: LanguageLevels = { user: null, group: null, site: known(site.rows[0]?.value) };
      if (!userId) return out;
      const r = await pool.query<{
        language: string | null;
        group_name: string | null;
        group_language: string | null;
      }>(
        `SELECT u.language, u.group_name, g.language AS group_language
           FROM users u LEFT JOIN user_groups g ON g.name = u.group_name WHERE u.id = $1`,
        [userId],
      );
      const row = r.rows[0];
      if (!row) return out;
      out.user = known(row.language);
      if (row.group_name) out.group = { name: row.group_name, language: known(row.group_language) };
      return out;
    },
    async setUser(userId, language) {
      const r = await pool.query('UPDATE users SET language = $2, updated_at = now() WHERE id = $1', [
        userId,
        language,
      ]);
      return (r.rowCount ?? 0) > 0;
    },
    async setGroup(name, language) {
      const r = await pool.query('UPDATE user_groups SET language = $2 WHERE name = $1', [name, language]);
      return (r.rowCount ?? 0) > 0;
    },
    async groups() {
      const r = await pool.query<{ name: string; language: string }>(
        'SELECT name, language FROM user_groups WHERE language IS NOT NULL',
      );
      const out = new Map<string, ConsoleLanguage>();
      for (const g of r.rows) {
        const l = known(g.language);
        if (l) out.set(g.name, l);
      }
      return out;
    },
  };
}
