import { api, send } from '../api.js';
import { h, outcome } from '../dom.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';

/**
 * The recordings list's saved searches (GET|POST /me/searches, DELETE /me/searches/<id>): a select
 * that opens one, "Save search" (the search now on the page, under a name asked for) and "Delete".
 * Hidden for a principal without saved searches (the admin token).
 */

interface Saved {
  id: string;
  name: string;
  query: string;
}

/** `current`: the search on the page as its address holds it (no page offset). */
export function savedSearchesBar(current: () => URLSearchParams): HTMLElement & { refresh(): void } {
  const msg = outcome('saved-search-msg');
  const select = h('select', { id: 'saved-search' });
  const del = h('button', { type: 'button', id: 'delete-saved-search' }, t('Delete'));
  const bar = h(
    'p',
    { class: 'saved-searches' },
    h('label', {}, `${t('Saved searches')} `, select),
    ' ',
    h('button', { type: 'button', id: 'save-search', onclick: () => void save() }, t('Save search')),
    ' ',
    del,
    msg.el,
  );
  bar.style.display = 'none';
  let saved: Saved[] = [];
  /** The saved search the page shows now, if any (the server keeps the filters in its own order). */
  const sorted = (q: URLSearchParams): string =>
    [...q]
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join('&');
  const showing = (): Saved | undefined => {
    const now = sorted(current());
    return saved.find((s) => sorted(new URLSearchParams(s.query)) === now);
  };
  const fill = (): void => {
    const on = showing();
    select.replaceChildren(
      h('option', { value: '' }, saved.length ? t('— choose —') : t('(none yet)')),
      ...saved.map((s) => h('option', { value: s.id, selected: s.id === on?.id }, s.name)),
    );
    del.disabled = !on;
  };
  const load = async (): Promise<void> => {
    saved = (await api<{ items: Saved[] }>('/me/searches')).items;
    bar.style.display = '';
    fill();
  };
  const save = async (): Promise<void> => {
    const name = window.prompt(t('Save this search as:'))?.trim();
    if (!name) return;
    try {
      await send('POST', '/me/searches', { name, query: current().toString() });
      await load();
      msg.ok(t('saved "{name}"', { name }));
    } catch (e) {
      msg.fail(e as Error);
    }
  };
  select.addEventListener('change', () => {
    const s = saved.find((x) => x.id === select.value);
    if (s) navigate(`/recordings${s.query ? `?${s.query}` : ''}`);
  });
  del.addEventListener('click', () => {
    const s = showing();
    if (!s || !window.confirm(t('Delete the saved search "{name}"?', { name: s.name }))) return;
    send('DELETE', `/me/searches/${encodeURIComponent(s.id)}`)
      .then(load)
      .then(
        () => msg.ok(t('deleted "{name}"', { name: s.name })),
        (e: Error) => msg.fail(e),
      );
  });
  // The admin token has no saved searches (400): the bar stays hidden.
  load().catch(() => undefined);
  return Object.assign(bar, { refresh: fill });
}
