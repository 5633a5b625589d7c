import { api, send } from '../api.js';
import { grid, h, outcome, td } from '../dom.js';
import { fmtNumber, t } from '../i18n.js';
import { recordingFiltersCard } from './recording-filters.js';

/**
 * Recording control (admins): the record mode of calls by default, of each group and of each user;
 * how on-demand calls and calls of several users are kept; the phone codes; and how many calls
 * were answered without audio. The API is /recording-control (docs/recording-control.md); every
 * change is audited there.
 */

type Mode = 'always' | 'always-pause' | 'on-demand' | 'never';
const ACTIONS = ['pause', 'resume', 'start', 'stop'] as const;
type Action = (typeof ACTIONS)[number];

interface ControlSettings {
  defaultMode: Mode;
  keepUnstarted: 'metadata' | 'none';
  onDemandFrom: 'press' | 'call';
  combine: 'most-audio' | 'least-audio';
  dtmf: Partial<Record<Action, string>> | null;
}

interface ControlTable {
  settings: ControlSettings;
  modes: Mode[];
  users: { id: string; username: string; numbers: string[]; mode: Mode | null }[];
  groups: { name: string; mode: Mode | null }[];
  notRecorded: { never: number; 'on-demand': number };
}

/** A mode with what it keeps, in the current language. */
const modeLabel = (m: string): string =>
  m === 'always'
    ? t('always: the whole call')
    : m === 'always-pause'
      ? t('always, may pause: the whole call but paused time')
      : m === 'on-demand'
        ? t('on demand: from a user’s start')
        : m === 'never'
          ? t('never: no audio')
          : m;

const actionLabel = (a: Action): string =>
  a === 'pause' ? t('Pause') : a === 'resume' ? t('Resume') : a === 'start' ? t('Start') : t('Stop');

const select = (id: string, options: [string, string][], value: string): HTMLSelectElement =>
  h(
    'select',
    { id },
    ...options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );

export function recordingControlView(app: HTMLElement): void {
  const msg = outcome('control-msg');
  const body = h('div', {}, t('Loading…'));
  app.append(
    h('h2', {}, t('Recording control')),
    h(
      'p',
      { class: 'muted' },
      t('Changes apply to calls that start afterwards. Every change is written to the audit trail.'),
    ),
    msg.el,
    body,
  );
  const load = async (): Promise<void> => {
    const c = await api<ControlTable>('/recording-control');
    body.replaceChildren(
      defaultsCard(c, msg),
      recordingFiltersCard(msg),
      groupsCard(c, msg),
      usersCard(c, msg),
      notRecordedCard(c),
    );
  };
  load().catch((e: Error) => msg.fail(e));
}

function defaultsCard(c: ControlTable, msg: ReturnType<typeof outcome>): HTMLElement {
  const s = c.settings;
  const modes = c.modes.map((m): [string, string] => [m, modeLabel(m)]);
  const f = {
    defaultMode: select('control-default-mode', modes, s.defaultMode),
    keepUnstarted: select(
      'control-keep-unstarted',
      [
        ['metadata', t('a catalogue entry without audio')],
        ['none', t('nothing')],
      ],
      s.keepUnstarted,
    ),
    onDemandFrom: select(
      'control-on-demand-from',
      [
        ['press', t('from the start press')],
        ['call', t('the whole call once started')],
      ],
      s.onDemandFrom,
    ),
    combine: select(
      'control-combine',
      [
        ['most-audio', t('the mode that keeps the most audio')],
        ['least-audio', t('the mode that keeps the least audio')],
      ],
      s.combine,
    ),
  };
  const codes = Object.fromEntries(
    ACTIONS.map((a) => [
      a,
      h('input', { id: `control-dtmf-${a}`, size: 8, value: s.dtmf?.[a] ?? '', placeholder: t('off') }),
    ]),
  ) as Record<Action, HTMLInputElement>;
  const save = (): void => {
    const dtmf = Object.fromEntries(
      ACTIONS.map((a) => [a, codes[a].value.trim()] as const).filter(([, v]) => v !== ''),
    );
    send<{ settings: ControlSettings }>('PUT', '/recording-control/settings', {
      defaultMode: f.defaultMode.value,
      keepUnstarted: f.keepUnstarted.value,
      onDemandFrom: f.onDemandFrom.value,
      combine: f.combine.value,
      dtmf: Object.keys(dtmf).length > 0 ? dtmf : null,
    }).then(
      () => msg.ok(t('saved the recording control settings')),
      (e: Error) => msg.fail(e),
    );
  };
  const row = (label: string, el: HTMLElement) => h('p', {}, h('label', {}, `${label} `, el));
  return h(
    'div',
    { class: 'card', id: 'control-defaults' },
    h('h3', {}, t('Defaults')),
    row(t('Mode of calls of no user, group or user without a mode:'), f.defaultMode),
    row(t('An on-demand call never started keeps:'), f.keepUnstarted),
    row(t('On-demand audio is kept:'), f.onDemandFrom),
    row(t('A call of several users follows:'), f.combine),
    h('p', {}, t('Phone codes (digits 0-9 * # A-D; empty: off):')),
    h('p', {}, ...ACTIONS.flatMap((a) => [h('label', {}, `${actionLabel(a)} `, codes[a]), ' '])),
    h('button', { class: 'primary', id: 'control-save', onclick: save }, t('Save')),
  );
}

/** A mode select that saves on change; `unset` names what no mode of its own means. */
function modeSelect(
  c: ControlTable,
  attrs: { id: string; 'data-name': string },
  value: Mode | null,
  unset: string,
  put: (mode: Mode | null) => Promise<unknown>,
  msg: ReturnType<typeof outcome>,
  saved: string,
): HTMLSelectElement {
  const pick = select(
    attrs.id,
    [['', unset], ...c.modes.map((m): [string, string] => [m, modeLabel(m)])],
    value ?? '',
  );
  pick.setAttribute('data-name', attrs['data-name']);
  pick.addEventListener('change', () => {
    put(pick.value === '' ? null : (pick.value as Mode)).then(
      () => msg.ok(saved),
      (e: Error) => msg.fail(e),
    );
  });
  return pick;
}

function groupsCard(c: ControlTable, msg: ReturnType<typeof outcome>): HTMLElement {
  const rows = c.groups.map((g) =>
    h(
      'tr',
      {},
      td(g.name),
      td(
        modeSelect(
          c,
          { id: `control-group-${g.name}`, 'data-name': g.name },
          g.mode,
          t('the default'),
          (mode) => send('PUT', `/recording-control/groups/${encodeURIComponent(g.name)}`, { mode }),
          msg,
          t('saved the record mode of group {name}', { name: g.name }),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'card' },
    h('h3', {}, t('Groups')),
    rows.length > 0 ? grid('control-groups', [t('Group'), t('Record mode')], rows) : t('No groups.'),
  );
}

function usersCard(c: ControlTable, msg: ReturnType<typeof outcome>): HTMLElement {
  const rows = c.users.map((u) =>
    h(
      'tr',
      {},
      td(u.username),
      td(u.numbers.join(', ')),
      td(
        modeSelect(
          c,
          { id: `control-user-${u.id}`, 'data-name': u.username },
          u.mode,
          t('the group’s, else the default'),
          (mode) => send('PUT', `/recording-control/users/${encodeURIComponent(u.id)}`, { mode }),
          msg,
          t('saved the record mode of user {name}', { name: u.username }),
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'card' },
    h('h3', {}, t('Users')),
    rows.length > 0
      ? grid('control-users', [t('User'), t('Numbers'), t('Record mode')], rows)
      : t('No users.'),
  );
}

function notRecordedCard(c: ControlTable): HTMLElement {
  return h(
    'div',
    { class: 'card', id: 'control-not-recorded' },
    h('h3', {}, t('Calls answered without audio (since this server started)')),
    h(
      'p',
      {},
      t('never: {n}, on demand and never started: {m}', {
        n: fmtNumber(c.notRecorded.never),
        m: fmtNumber(c.notRecorded['on-demand']),
      }),
    ),
  );
}
