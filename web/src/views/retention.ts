import { ApiError, api, send } from '../api.js';
import { h, type outcome } from '../dom.js';
import { t, tp } from '../i18n.js';

/**
 * Retention (admins), a card of the Settings page: how long stored recordings are kept, by
 * default and per recording group (keep, <N>d, <N>h). The API is /retention-policy: the server's
 * configuration applies until a policy is saved here. A change that would delete recordings the
 * policy in force keeps is refused with their number; the card asks, and sends it again with that
 * number only when the admin agrees.
 */

interface Policy {
  default: string;
  groups: Record<string, string>;
}
interface View {
  policy: Policy;
  saved: boolean;
  intervalSeconds: number;
}

/** `group=policy` a line; null (and the bad line) when one is not. */
function parseGroups(text: string): { groups: Record<string, string> } | { bad: string } {
  const groups: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line) continue;
    const m = /^([^=]+)=(.+)$/.exec(line);
    if (!m) return { bad: line };
    groups[(m[1] as string).trim()] = (m[2] as string).trim();
  }
  return { groups };
}

export function retentionCard(msg: ReturnType<typeof outcome>): HTMLElement {
  const card = h('div', { class: 'card', id: 'retention' }, h('h3', {}, t('Retention')));
  const draw = (r: View): void => {
    card.replaceChildren(card.firstChild as Node, ...fields(r, msg, draw));
  };
  api<View>('/retention-policy').then(draw, (e: Error) => msg.fail(e));
  return card;
}

/**
 * Sends a change; when the server answers that it deletes recordings, asks the admin and sends
 * it again confirmed with the number the server gave.
 */
async function confirmed(go: (confirmPurge?: number) => Promise<View>): Promise<View | null> {
  try {
    return await go();
  } catch (e) {
    const n = e instanceof ApiError && e.status === 409 ? e.body.wouldPurge : undefined;
    if (typeof n !== 'number') throw e;
    const question = tp(
      n,
      'This change deletes {n} stored recording at the next purge pass. Delete it?',
      'This change deletes {n} stored recordings at the next purge pass. Delete them?',
    );
    if (!window.confirm(question)) return null;
    return go(n);
  }
}

function fields(
  { policy, saved, intervalSeconds }: View,
  msg: ReturnType<typeof outcome>,
  draw: (r: View) => void,
) {
  const status = h(
    'p',
    { class: 'muted', id: 'retention-source' },
    saved
      ? t('Saved here: this policy replaces the server’s configured one on every node.')
      : t('The server’s configured policy applies until one is saved here.'),
    ' ',
    t('Recordings past their time are deleted every {s} s; preserved recordings never are.', {
      s: String(intervalSeconds),
    }),
  );
  const def = h('input', { id: 'retention-default', value: policy.default, size: 8 });
  const groups = h('textarea', { id: 'retention-groups', rows: 3, cols: 30 });
  groups.value = Object.entries(policy.groups)
    .map(([g, p]) => `${g}=${p}`)
    .join('\n');
  const done = (text: string) => (r: View | null) => {
    if (!r) return msg.ok(t('nothing changed'));
    draw(r);
    msg.ok(text);
  };
  const save = (): void => {
    const g = parseGroups(groups.value);
    if ('bad' in g) return msg.fail(new Error(t('not group=policy: {line}', { line: g.bad })));
    const body = { default: def.value.trim(), groups: g.groups };
    confirmed((n) =>
      send<View>('PUT', '/retention-policy', n === undefined ? body : { ...body, confirmPurge: n }),
    ).then(done(t('saved the retention policy')), (e: Error) => msg.fail(e));
  };
  const reset = (): void => {
    confirmed((n) =>
      send<View>('DELETE', `/retention-policy${n === undefined ? '' : `?confirmPurge=${n}`}`),
    ).then(done(t('the configured retention policy applies again')), (e: Error) => msg.fail(e));
  };
  const row = (label: string, el: HTMLElement) => h('p', {}, h('label', {}, `${label} `, el));
  return [
    status,
    h('p', {}, t('A policy is keep, a number of days (90d) or of hours (12h).')),
    row(t('Keep recordings:'), def),
    row(
      t('Per recording group, one a line (sales=90d); a recording in several groups keeps the longest:'),
      groups,
    ),
    h(
      'p',
      {},
      h('button', { class: 'primary', id: 'retention-save', onclick: save }, t('Save')),
      saved ? h('button', { id: 'retention-reset', onclick: reset }, t('Use the configured policy')) : '',
    ),
  ];
}
