import { api, send } from '../api.js';
import { h, type outcome } from '../dom.js';
import { t } from '../i18n.js';

/**
 * Recording filters (admins), a card of the Recording control page: which calls are recorded by
 * direction, scope, internal numbers and blacklist, and what an excluded call gets. The API is
 * /recording-policy: the server's configuration applies until a policy is saved here; the saved one
 * then wins, on every node, for calls that start afterwards, until it is dropped (the configured
 * filters apply again).
 */

interface Policy {
  direction: 'inbound' | 'outbound' | 'both';
  scope: 'internal' | 'external' | 'both';
  internalNumbers: string[];
  blacklist: string[];
  excludedAction: 'answer' | 'decline';
  declineStatus: number;
}

/** One pattern a line, or comma-separated. */
const patterns = (v: string): string[] =>
  v
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

const select = (id: string, options: [string, string][], value: string): HTMLSelectElement =>
  h(
    'select',
    { id },
    ...options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  );

/** The card: filled once the policy is read; the API's refusals go to `msg`. */
export function recordingFiltersCard(msg: ReturnType<typeof outcome>): HTMLElement {
  const card = h('div', { class: 'card', id: 'recording-filters' }, h('h3', {}, t('Recording filters')));
  const draw = (r: View): void => {
    card.replaceChildren(card.firstChild as Node, ...fields(r, msg, draw));
  };
  api<View>('/recording-policy').then(draw, (e: Error) => msg.fail(e));
  return card;
}

interface View {
  policy: Policy;
  saved: boolean;
}

function fields(
  { policy: p, saved }: View,
  msg: ReturnType<typeof outcome>,
  draw: (r: View) => void,
): HTMLElement[] {
  const status = h(
    'p',
    { class: 'muted', id: 'filters-source' },
    saved
      ? t('Saved here: these filters replace the server’s configured ones on every node.')
      : t('The server’s configured filters apply until filters are saved here.'),
  );
  const direction = select(
    'filters-direction',
    [
      ['both', t('inbound and outbound')],
      ['inbound', t('inbound only')],
      ['outbound', t('outbound only')],
    ],
    p.direction,
  );
  const scope = select(
    'filters-scope',
    [
      ['both', t('internal and external')],
      ['internal', t('internal only')],
      ['external', t('external only')],
    ],
    p.scope,
  );
  const area = (id: string, v: string[]) => {
    const el = h('textarea', { id, rows: 3, cols: 40 });
    el.value = v.join('\n');
    return el;
  };
  const internal = area('filters-internal', p.internalNumbers);
  const blacklist = area('filters-blacklist', p.blacklist);
  const action = select(
    'filters-excluded-action',
    [
      ['answer', t('answered, no audio kept')],
      ['decline', t('declined')],
    ],
    p.excludedAction,
  );
  const declineStatus = h('input', {
    id: 'filters-decline-status',
    type: 'number',
    min: 400,
    max: 699,
    value: String(p.declineStatus),
  });
  const save = (): void => {
    send<View>('PUT', '/recording-policy', {
      direction: direction.value,
      scope: scope.value,
      internalNumbers: patterns(internal.value),
      blacklist: patterns(blacklist.value),
      excludedAction: action.value,
      declineStatus: Number(declineStatus.value),
    }).then(
      (r) => {
        draw(r);
        msg.ok(t('saved the recording filters'));
      },
      (e: Error) => msg.fail(e),
    );
  };
  const reset = (): void => {
    send<View>('DELETE', '/recording-policy').then(
      (r) => {
        draw(r);
        msg.ok(t('the configured filters apply again'));
      },
      (e: Error) => msg.fail(e),
    );
  };
  const row = (label: string, el: HTMLElement) => h('p', {}, h('label', {}, `${label} `, el));
  return [
    status,
    row(t('Calls recorded by direction:'), direction),
    row(t('Calls recorded by scope:'), scope),
    h(
      'p',
      {},
      t(
        'Number patterns, one a line or comma-separated: digits, + * #, X or . for one digit, ! for any digits.',
      ),
    ),
    row(t('Internal numbers:'), internal),
    row(t('Blacklist (remote numbers never recorded):'), blacklist),
    row(t('An excluded call is:'), action),
    row(t('SIP status of a declined call:'), declineStatus),
    h(
      'p',
      {},
      h('button', { class: 'primary', id: 'filters-save', onclick: save }, t('Save')),
      saved ? h('button', { id: 'filters-reset', onclick: reset }, t('Use the configured filters')) : '',
    ),
  ];
}
