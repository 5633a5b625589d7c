/**
 * The console's languages. Source strings are English and are their own keys (`t('Log out')`);
 * each view's translations live beside the others in `i18n/<view>.ts` and are registered at start
 * (`i18n/catalogues.ts`). A string with no translation shows in English.
 *
 * Rules the catalogue test (test/unit/web-i18n.test.ts) enforces: the first argument of `t` and
 * the two of `tp` are string literals; every such string has a translation in every language, with
 * the same `{placeholders}`; no translation is left for a string the console no longer uses.
 */

export const LANGUAGES = ['en', 'es', 'fr', 'pt-BR', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];
/** Each language in its own words (the picker shows these, whatever the current language). */
export const LANGUAGE_NAMES: Record<Language, string> = {
  en: 'English',
  es: 'Español',
  fr: 'Français',
  'pt-BR': 'Português (Brasil)',
  ru: 'Русский',
};

/** A translation: a string, or for `tp` one string per plural category of the language. */
export type Entry = string | Partial<Record<Intl.LDMLPluralRule, string>>;
/** Translations of English source strings, per language other than English. */
export type Catalogue = Partial<Record<Exclude<Language, 'en'>, Record<string, Entry>>>;

const tables = new Map<Language, Map<string, Entry>>();
let current: Language = 'en';
let plural = new Intl.PluralRules('en');

export function isLanguage(v: unknown): v is Language {
  return typeof v === 'string' && (LANGUAGES as readonly string[]).includes(v);
}

export function register(...catalogues: Catalogue[]): void {
  for (const c of catalogues) {
    for (const [lang, entries] of Object.entries(c) as [Language, Record<string, Entry>][]) {
      let table = tables.get(lang);
      if (!table) tables.set(lang, (table = new Map()));
      for (const [k, v] of Object.entries(entries)) table.set(k, v);
    }
  }
}

/** Switches the language of what is drawn from now on (the caller redraws). */
export function setLanguage(lang: Language): void {
  current = lang;
  plural = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
}

export function language(): Language {
  return current;
}

export type Params = Record<string, string | number>;

function fill(s: string, params?: Params): string {
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) =>
    params[name] === undefined ? m : String(params[name]),
  );
}

/** `source` (English) in the current language, with `{name}` replaced from `params`. */
export function t(source: string, params?: Params): string {
  const e = tables.get(current)?.get(source);
  return fill(typeof e === 'string' ? e : source, params);
}

/**
 * A count: `one` or `other` in English (`tp(n, '{n} file', '{n} files')`), the language's own
 * plural category elsewhere (Russian has one, few and many). `{n}` is the count.
 */
export function tp(n: number, one: string, other: string, params?: Params): string {
  const all = { n, ...params };
  const e = tables.get(current)?.get(other);
  if (e !== undefined && typeof e !== 'string') {
    const s = e[plural.select(n)] ?? e.other;
    if (s !== undefined) return fill(s, all);
  }
  return fill(n === 1 ? one : other, all);
}

/** Dates and numbers in the current language's conventions. */
export const fmtDate = (d: Date, o?: Intl.DateTimeFormatOptions) => d.toLocaleString(current, o);
export const fmtNumber = (n: number, o?: Intl.NumberFormatOptions) => n.toLocaleString(current, o);
