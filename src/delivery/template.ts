import { ConfigError } from '../errors.js';

/**
 * File-name templates for exported recordings (reference seed 004, "Call recording file format"):
 *
 *   %{setup-time##%Y%m%d}/%{setup-time##%Y%m%d%H%M%S}-%{caller-number}-%{callee-number}-%{call-id}
 *
 * `%{field}` inserts a field, `%{time-field##strftime}` a time formatted in UTC,
 * `%{field:<name>}` the recording's custom field of that name (empty when it has none), `%%` a
 * percent sign; anything else is literal, and `/` makes folders. Parsed once at configuration time
 * (`parseTemplate` throws ConfigError naming the position), rendered per recording by a pure
 * function. Inserted values never make folders: `/`, `\`, control characters and characters
 * Windows shares refuse are replaced with `_`.
 */

export const TEMPLATE_FIELDS = {
  'setup-time': 'time',
  'end-time': 'time',
  'stored-time': 'time',
  'caller-number': 'text',
  'caller-name': 'text',
  'callee-number': 'text',
  'callee-name': 'text',
  'call-id': 'text',
  'recording-id': 'text',
  'session-id': 'text',
  user: 'text',
  extension: 'text',
  'remote-number': 'text',
  group: 'text',
  direction: 'text',
  duration: 'text',
} as const;

export type TemplateField = keyof typeof TEMPLATE_FIELDS;

/** strftime directives understood after `##`. */
const DIRECTIVES = new Set(['Y', 'y', 'm', 'd', 'H', 'M', 'S', 'j', 'L', 's', '%']);

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'field'; field: TemplateField; format?: string }
  /** A custom field's value (docs/api.md#custom-fields). */
  | { kind: 'custom'; name: string };

export interface FileTemplate {
  source: string;
  parts: TemplatePart[];
}

export interface TemplateValues {
  times: Partial<Record<'setup-time' | 'end-time' | 'stored-time', Date>>;
  text: Partial<Record<Exclude<TemplateField, 'setup-time' | 'end-time' | 'stored-time'>, string>>;
  /** Custom field values by name. */
  fields?: Readonly<Record<string, string>>;
}

const fail = (src: string, at: number, why: string): never => {
  throw new ConfigError(`export.template: ${why} at position ${at + 1} of "${src}"`);
};

export function parseTemplate(source: string): FileTemplate {
  if (source.trim() === '') fail(source, 0, 'empty template');
  if (source.startsWith('/')) fail(source, 0, 'must be relative (no leading /)');
  if (source.includes('\\')) fail(source, source.indexOf('\\'), 'use / for folders, not \\');
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (c !== '%') {
      if (c.charCodeAt(0) < 0x20) fail(source, i, 'control character');
      text += c;
      i++;
      continue;
    }
    const n = source[i + 1];
    if (n === '%') {
      text += '%';
      i += 2;
      continue;
    }
    if (n !== '{') fail(source, i, 'a % must start %{field} or be written %%');
    const end = source.indexOf('}', i + 2);
    if (end < 0) fail(source, i, 'unclosed %{');
    const inner = source.slice(i + 2, end);
    const [name, format, ...extra] = inner.split('##');
    if (extra.length > 0) fail(source, i, 'one ## per field');
    if (name?.startsWith('field:')) {
      const custom = name.slice('field:'.length);
      if (!/^[a-z][a-z0-9_]{0,39}$/.test(custom))
        fail(source, i, `"${custom}" is not a custom field name (a-z, 0-9 and _, a letter first)`);
      if (format !== undefined) fail(source, i, 'a custom field is not a time; ## applies to times only');
      if (text) parts.push({ kind: 'text', text });
      text = '';
      parts.push({ kind: 'custom', name: custom });
      i = end + 1;
      continue;
    }
    if (!name || !(name in TEMPLATE_FIELDS))
      fail(source, i, `unknown field "${name ?? ''}" (known: ${Object.keys(TEMPLATE_FIELDS).join(', ')})`);
    const field = name as TemplateField;
    if (format !== undefined) {
      if (TEMPLATE_FIELDS[field] !== 'time')
        fail(source, i, `${field} is not a time; ## applies to times only`);
      if (format === '') fail(source, i, 'empty time format after ##');
      for (let k = 0; k < format.length; k++) {
        if (format[k] !== '%') continue;
        const d = format[k + 1];
        if (d === undefined || !DIRECTIVES.has(d))
          fail(source, i, `unknown time directive %${d ?? ''} (known: %Y %y %m %d %H %M %S %j %L %s %%)`);
        k++;
      }
    }
    if (text) parts.push({ kind: 'text', text });
    text = '';
    parts.push(format === undefined ? { kind: 'field', field } : { kind: 'field', field, format });
    i = end + 1;
  }
  if (text) parts.push({ kind: 'text', text });
  // Literal folder names must not climb out of the destination.
  const literal = parts.map((p) => (p.kind === 'text' ? p.text : 'x')).join('');
  if (literal.split('/').some((seg) => seg === '..' || seg === '.'))
    fail(source, source.indexOf('.'), '"." and ".." folders are not allowed');
  if (/\/\/|\/$/.test(literal)) fail(source, source.length - 1, 'empty folder name');
  return { source, parts };
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** strftime subset, in UTC. */
export function formatTime(d: Date, format: string): string {
  let out = '';
  for (let k = 0; k < format.length; k++) {
    const c = format[k] as string;
    if (c !== '%') {
      out += c;
      continue;
    }
    const x = format[++k];
    switch (x) {
      case 'Y':
        out += String(d.getUTCFullYear());
        break;
      case 'y':
        out += p2(d.getUTCFullYear() % 100);
        break;
      case 'm':
        out += p2(d.getUTCMonth() + 1);
        break;
      case 'd':
        out += p2(d.getUTCDate());
        break;
      case 'H':
        out += p2(d.getUTCHours());
        break;
      case 'M':
        out += p2(d.getUTCMinutes());
        break;
      case 'S':
        out += p2(d.getUTCSeconds());
        break;
      case 'L':
        out += String(d.getUTCMilliseconds()).padStart(3, '0');
        break;
      case 'j': {
        const start = Date.UTC(d.getUTCFullYear(), 0, 1);
        out += String(Math.floor((d.getTime() - start) / 86_400_000) + 1).padStart(3, '0');
        break;
      }
      case 's':
        out += String(Math.floor(d.getTime() / 1000));
        break;
      default:
        out += '%';
    }
  }
  return out;
}

/** A value made safe as (part of) one path segment. */
export function safeSegment(v: string): string {
  // eslint-disable-next-line no-control-regex
  const s = v.replace(/[/\\\x00-\x1f\x7f:*?"<>|]/g, '_');
  return s === '.' || s === '..' ? s.replace(/\./g, '_') : s;
}

/** The relative path (without extension) for one recording. */
export function renderTemplate(t: FileTemplate, v: TemplateValues): string {
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') out += p.text;
    else if (p.kind === 'custom') out += safeSegment(v.fields?.[p.name] ?? '');
    else if (TEMPLATE_FIELDS[p.field] === 'time') {
      const d = v.times[p.field as keyof TemplateValues['times']];
      // A time's format comes from the configuration (it may make folders, %Y/%m/%d); its digits are safe.
      out += d ? (p.format ? formatTime(d, p.format) : safeSegment(d.toISOString())) : '';
    } else out += safeSegment(v.text[p.field as keyof TemplateValues['text']] ?? '');
  }
  // A folder made empty by empty values, or a leading dot from a value, must not hide the file.
  return out
    .split('/')
    .map((seg) => (seg === '' ? '_' : seg.startsWith('.') ? `_${seg.slice(1)}` : seg))
    .join('/');
}
