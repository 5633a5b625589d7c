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

export function parseParticipantMatch(v: string, filter = 'participant'): ParticipantMatch {
  const re = /^\/(.+)\/$/s.exec(v);
  if (re) {
    const source = re[1] as string;
    const why = regexTooBig(source);
    if (why) throw new ParseError(`${filter}: regular expression ${why}`);
    return { kind: 'regex', source };
  }
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

/** The longest `/regular expression/` a search filter takes (characters between the slashes). */
export const REGEX_MAX_LENGTH = 200;
/**
 * The most copies of an atom a filter's regular expression may expand to: the sum over its atoms
 * of the product of the `{m,n}` bounds around each. Postgres compiles bounded repetition into
 * copies: `(\w{1,200}){1,200}` (40,000) failed with "invalid memory alloc request" (a 500, SQLSTATE
 * XX000). A number or name pattern needs far fewer (`^49\d{6,12}$` is 14).
 */
export const REGEX_MAX_COPIES = 1000;

/**
 * Why a filter's regular expression is refused before Postgres sees it (too long, or expanding
 * to too many copies), or null. An estimate from the source: escapes and bracket expressions are
 * one atom, a group is the sum of its atoms, alternatives add up, `{m,n}` multiplies the atom
 * before it by n (m + 1 when unbounded). A syntax error is left to Postgres (its own 400).
 */
export function regexTooBig(source: string): string | null {
  if (source.length > REGEX_MAX_LENGTH)
    return `longer than ${REGEX_MAX_LENGTH} characters (${source.length})`;
  const frames: number[] = [0];
  let last = 0;
  const atom = (w: number) => {
    frames[frames.length - 1] = (frames[frames.length - 1] as number) + w;
    last = w;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      i++;
      atom(1);
    } else if (c === '[') {
      // To the closing bracket: a first `]` (after an optional `^`) is a member, `[:x:]` a class.
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') {
        const cls = source[j] === '[' ? /^\[([:.=]).*?\1\]/.exec(source.slice(j)) : null;
        j += cls ? cls[0].length : source[j] === '\\' ? 2 : 1;
      }
      i = j;
      atom(1);
    } else if (c === '(') {
      frames.push(0);
      if (source[i + 1] === '?') i += 2;
      last = 0;
    } else if (c === ')') {
      const inner = frames.length > 1 ? (frames.pop() as number) : 0;
      atom(Math.max(1, inner));
    } else if (c === '{') {
      const q = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!q) {
        atom(1);
        continue;
      }
      const m = Number(q[1]);
      const n = q[2] === undefined ? m : q[3] === '' ? m + 1 : Number(q[3]);
      const times = Math.max(1, m, n);
      frames[frames.length - 1] = (frames[frames.length - 1] as number) + last * (times - 1);
      last *= times;
      i += q[0].length - 1;
    } else if (c === '*' || c === '+' || c === '?' || c === '|' || c === '^' || c === '$') {
      // Quantifiers without bounds and anchors add no copies; alternatives add up as atoms do.
    } else atom(1);
    if (frames.reduce((a, b) => a + b, 0) > REGEX_MAX_COPIES)
      return `too complex: its repetitions expand to more than ${REGEX_MAX_COPIES} copies`;
  }
  return null;
}

/**
 * A Postgres error from a filter's regular expression as the search's 400 naming `filter`, else
 * the error itself: an invalid one (22023 / 2201B), one past a program limit (54000), and, from
 * the validation query alone (`validating`), whatever else Postgres fails with on it (XX000:
 * an allocation it refuses).
 */
export function regexError(err: unknown, filter = 'participant', validating = false): unknown {
  const e = err as { code?: string; message?: string };
  if (e?.code === '2201B' || (e?.code === '22023' && /regular expression/i.test(e.message ?? '')))
    return new ParseError(`${filter}: not a valid regular expression (${e.message})`);
  if (e?.code === '54000' || (validating && e?.code === 'XX000'))
    return new ParseError(`${filter}: regular expression too complex (${e.message})`);
  return err;
}
