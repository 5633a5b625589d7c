/**
 * The console's catalogue against its code (web/src/i18n.ts): every string the console passes to
 * `t` or `tp` is translated into every language with the same placeholders (and, for `tp`, every
 * plural category the language has), no translation is left for a string no longer used, and no
 * English sentence in a view bypasses `t`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LANGUAGES, type Entry } from '../../web/src/i18n.js';
import { CATALOGUES } from '../../web/src/i18n/catalogues.js';
import { CONSOLE_LANGUAGES } from '../../src/store/languages.js';

const WEB = join(import.meta.dirname, '../../web/src');
const LITERAL = String.raw`'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"`;

function sources(): { file: string; text: string }[] {
  return readdirSync(WEB, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.startsWith('i18n'))
    .map((f) => ({ file: f, text: readFileSync(join(WEB, f), 'utf8') }));
}

const unquote = (lit: string): string =>
  JSON.parse(
    lit.startsWith("'") ? `"${lit.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"` : lit,
  ) as string;
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/** The strings the code translates: `t('...')` and both of `tp(n, '...', '...')`. */
function used(): { plain: Set<string>; plural: Map<string, string>; dynamic: string[] } {
  const plain = new Set<string>();
  const plural = new Map<string, string>();
  const dynamic: string[] = [];
  for (const { file, text } of sources()) {
    for (const m of text.matchAll(new RegExp(String.raw`(?<![\w.$])t\(\s*(${LITERAL})?`, 'g'))) {
      if (m[1] === undefined) dynamic.push(`${file}: ${text.slice(m.index, m.index + 40)}`);
      else plain.add(unquote(m[1]));
    }
    const tpCall = new RegExp(
      String.raw`(?<![\w.$])tp\(\s*[^,]+,\s*(?:(${LITERAL})\s*,\s*(${LITERAL}))?`,
      'g',
    );
    for (const m of text.matchAll(tpCall)) {
      if (m[1] === undefined || m[2] === undefined)
        dynamic.push(`${file}: ${text.slice(m.index, m.index + 40)}`);
      else plural.set(unquote(m[2]), unquote(m[1]));
    }
  }
  return { plain, plural, dynamic };
}

function table(lang: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const c of CATALOGUES)
    for (const [k, v] of Object.entries(c[lang as keyof typeof c] ?? {})) out.set(k, v);
  return out;
}

test('the server accepts the languages the console has, and no other', () => {
  assert.deepEqual([...CONSOLE_LANGUAGES], [...LANGUAGES]);
  for (const c of CATALOGUES)
    assert.deepEqual(Object.keys(c).sort(), LANGUAGES.filter((l) => l !== 'en').sort());
});

test('a string has one translation per language, whichever view’s catalogue has it', () => {
  const clashes: string[] = [];
  for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
    const seen = new Map<string, string>();
    for (const c of CATALOGUES)
      for (const [k, v] of Object.entries(c[lang] ?? {})) {
        const text = JSON.stringify(v);
        const before = seen.get(k);
        if (before !== undefined && before !== text)
          clashes.push(`${lang} ${JSON.stringify(k)}: ${before} / ${text}`);
        seen.set(k, text);
      }
  }
  assert.deepEqual(clashes, [], 'the same English string translated two ways (one would win at random)');
});

test('every t/tp argument is a string literal (the catalogue test can only see literals)', () => {
  const { dynamic } = used();
  assert.deepEqual(dynamic, [], 'calls with a computed string');
});

test('the console translates its strings', () => {
  const { plain, plural } = used();
  assert.ok(plain.size > 0, 'the console uses t()');
  for (const lang of LANGUAGES.filter((l) => l !== 'en')) {
    const tr = table(lang);
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    const problems: string[] = [];
    for (const s of plain) {
      const e = tr.get(s);
      if (typeof e !== 'string') problems.push(`missing: ${JSON.stringify(s)}`);
      else if (placeholders(e).join() !== placeholders(s).join())
        problems.push(`placeholders differ: ${JSON.stringify(s)} -> ${JSON.stringify(e)}`);
      else if (e.trim() === '') problems.push(`empty: ${JSON.stringify(s)}`);
    }
    for (const [other, one] of plural) {
      const e = tr.get(other);
      if (e === undefined || typeof e === 'string') {
        problems.push(`missing plural: ${JSON.stringify(other)}`);
        continue;
      }
      const want = new Set([...placeholders(one), ...placeholders(other), 'n']);
      for (const c of categories) {
        const form = e[c];
        if (form === undefined) problems.push(`plural ${JSON.stringify(other)} lacks "${c}"`);
        else if (placeholders(form).some((p) => !want.has(p)))
          problems.push(`plural ${JSON.stringify(other)} "${c}" has an unknown placeholder`);
      }
    }
    for (const k of tr.keys())
      if (!plain.has(k) && !plural.has(k)) problems.push(`not used any more: ${JSON.stringify(k)}`);
    assert.deepEqual(problems, [], `${lang}: ${problems.length} problems`);
  }
});

/**
 * English words in a view that do not go through `t`: string literals that read as words (a capital
 * and lower-case letters, or several words), outside t()/tp() and outside import lines, CSS
 * selectors, element and attribute names. The few that are not prose are listed here.
 */
const NOT_PROSE = new Set<string>([
  // CSS classes
  'clickable recording-row',
  'tag interaction-link',
  'note pinned',
  'tag pin',
  'danger delete-field',
  'primary listen',
  'num calls',
  'danger delete-evaluation',
  'eval-comment muted',
  'danger delete-eval-form',
  'login card',
  'outcome ok',
  'outcome error',
]);
test('no English sentence in the console bypasses t()', () => {
  const leftovers: string[] = [];
  for (const { file, text } of sources()) {
    if (file === 'i18n.ts') continue;
    const stripped = text
      .replace(/^\s*(import|export \* from).*$/gm, '')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .replace(
        new RegExp(String.raw`(?<![\w.$])tp?\(\s*(?:[^,()]+,\s*)?(${LITERAL})(\s*,\s*(${LITERAL}))?`, 'g'),
        '',
      );
    for (const m of stripped.matchAll(new RegExp(LITERAL, 'g'))) {
      const s = unquote(m[0]);
      const prose = /^[A-Z][a-z]+\b/.test(s) || /[a-z]{2,} [a-z]{2,}/i.test(s);
      if (prose && !NOT_PROSE.has(s)) leftovers.push(`${file}: ${JSON.stringify(s)}`);
    }
  }
  assert.deepEqual(leftovers, [], `${leftovers.length} untranslated strings`);
});
