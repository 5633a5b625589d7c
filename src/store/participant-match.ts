import { ParseError } from '../errors.js';

/**
 * The participant filter of the recordings search, as recording portals offer it ("starts with",
 * "ends with", "matches a pattern", "matches a regular expression"), in one value:
 * - `1001*`, `*@pbx.example`, `49301?3456`: a simple pattern (`*` any run, `?` one character),
 *   matched whole against a participant's number (the AOR's user part), AOR or name, in any case;
 * - `/^49(30|40)/`: a regular expression (Postgres's, in any case) searched in the same;
 * - anything else: a substring of the AOR or name, in any case (`%` and `_` are plain characters).
 */
export type ParticipantMatch =
  { kind: 'contains'; value: string } | { kind: 'pattern'; like: string } | { kind: 'regex'; source: string };

export function parseParticipantMatch(v: string): ParticipantMatch {
  const re = /^\/(.+)\/$/s.exec(v);
  if (re) return { kind: 'regex', source: re[1] as string };
  if (/[*?]/.test(v)) {
    const like = v
      .replace(/[\\%_]/g, (c) => `\\${c}`)
      .replace(/\*/g, '%')
      .replace(/\?/g, '_');
    return { kind: 'pattern', like };
  }
  return { kind: 'contains', value: v };
}

/** The predicate on participants `p` for `m`, its value as the parameter `param` (`$n`). */
export function participantSql(m: ParticipantMatch, param: string): { sql: string; arg: string } {
  switch (m.kind) {
    case 'regex':
      return {
        sql: `(srs_aor_number(p.aor) ~* ${param} OR p.aor ~* ${param} OR p.name ~* ${param})`,
        arg: m.source,
      };
    case 'pattern':
      return {
        sql: `(srs_aor_number(p.aor) ILIKE ${param} OR p.aor ILIKE ${param} OR p.name ILIKE ${param})`,
        arg: m.like,
      };
    default:
      return {
        sql: `(strpos(lower(p.aor), lower(${param})) > 0 OR strpos(lower(p.name), lower(${param})) > 0)`,
        arg: m.value,
      };
  }
}

/** A Postgres "invalid regular expression" (22023 / 2201B) as the search's 400, else the error itself. */
export function regexError(err: unknown): unknown {
  const e = err as { code?: string; message?: string };
  if (e?.code === '2201B' || (e?.code === '22023' && /regular expression/i.test(e.message ?? '')))
    return new ParseError(`participant: not a valid regular expression (${e.message})`);
  return err;
}
