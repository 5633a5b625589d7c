import { send, session } from '../api.js';
import { h } from '../dom.js';
import { t, tp } from '../i18n.js';

/**
 * The bar over the recordings list that acts on the ticked rows at once (POST /recordings/bulk):
 * add or remove a category, preserve, lift the preservation, delete (when the role may). Each
 * recording is acted on by the single action's rules; the outcome says how many were done and why
 * the others were not.
 */

type Action = 'add-category' | 'remove-category' | 'preserve' | 'unpreserve' | 'delete';

interface BulkReply {
  results: { id: string; ok: boolean; error?: string; status?: number }[];
  done: number;
  failed: number;
}

/** Why a recording was not acted on, as people read it (the server's words after it). */
function reason(status: number | undefined): string {
  if (status === 404) return t('not found');
  if (status === 403) return t('not allowed');
  if (status === 409) return t('refused');
  if (status === 400) return t('invalid');
  return t('failed');
}

export interface BulkBar {
  el: HTMLElement;
  /** Shows or hides the bar after the ticked rows changed. */
  update(): void;
}

/** `selected` is the list's ticked ids; `done` clears them and reloads the list. */
export function recordingsBulkBar(selected: Set<string>, done: () => void): BulkBar {
  const count = h('span', { id: 'bulk-count' });
  const outcome = h('div', { id: 'bulk-outcome', class: 'bulk-outcome' });
  const buttons: HTMLButtonElement[] = [];
  const run = async (action: Action, category?: string): Promise<void> => {
    for (const b of buttons) b.disabled = true;
    outcome.replaceChildren();
    try {
      const r = await send<BulkReply>('POST', '/recordings/bulk', {
        ids: [...selected],
        action,
        ...(category !== undefined ? { category } : {}),
      });
      const failures = r.results.filter((x) => !x.ok);
      outcome.replaceChildren(
        h(
          'p',
          { id: 'bulk-summary', class: r.failed ? 'error' : 'muted' },
          t('{done} done, {failed} failed', { done: r.done, failed: r.failed }),
        ),
        ...(failures.length
          ? [
              h(
                'ul',
                { id: 'bulk-failures' },
                ...failures.map((x) =>
                  h('li', {}, `${x.id}: ${reason(x.status)}${x.error ? ` (${x.error})` : ''}`),
                ),
              ),
            ]
          : []),
      );
      done();
    } catch (e) {
      outcome.replaceChildren(h('p', { class: 'error' }, (e as Error).message));
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  };
  const category = (action: Action, question: string) => () => {
    const c = prompt(question)?.trim();
    if (c) void run(action, c);
  };
  const button = (id: string, label: string, onclick: () => unknown, cls = '') => {
    const b = h('button', { id, type: 'button', class: cls, onclick }, label);
    buttons.push(b);
    return b;
  };
  const bar = h(
    'p',
    { id: 'bulk-actions', class: 'bulk-actions' },
    count,
    ' ',
    button('bulk-add-category', t('Add category…'), category('add-category', t('Category to add'))),
    ' ',
    button(
      'bulk-remove-category',
      t('Remove category…'),
      category('remove-category', t('Category to remove')),
    ),
    ' ',
    button('bulk-preserve', t('Preserve'), () => run('preserve')),
    ' ',
    button('bulk-unpreserve', t('Remove preservation'), () => run('unpreserve')),
    ...(session.me?.can.delete
      ? [
          ' ',
          button(
            'bulk-delete',
            t('Delete'),
            () =>
              confirm(
                tp(selected.size, 'Delete {n} recording for good?', 'Delete {n} recordings for good?'),
              ) && run('delete'),
            'danger',
          ),
        ]
      : []),
  );
  const el = h('div', { id: 'bulk' }, bar, outcome);
  const update = (): void => {
    bar.style.display = selected.size ? '' : 'none';
    count.textContent = tp(selected.size, '{n} selected:', '{n} selected:');
  };
  update();
  return { el, update };
}
