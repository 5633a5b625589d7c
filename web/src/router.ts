/**
 * Routes in the URL (history API): each view has a path (/live, /recordings, /recordings/<id>,
 * ...), Back and Forward move between them inside the app, and a link can be opened or shared.
 * Same-origin links (<a href="/...">) are followed without reloading the page.
 */

/** A view draws into `app` and may return a function that stops it (timers, sockets). */
export type View = (app: HTMLElement, params: string[]) => void | (() => void);

export interface Route {
  /** The tab it belongs to (its element's id is tab-<tab>). */
  tab: string;
  /** Its address ('/recordings'); the tab links there. */
  path: string;
  /** When it takes parameters: the paths it matches (/^\/recordings\/([^/]+)$/). */
  pattern?: RegExp;
  view: View;
}

let routes: Route[] = [];
let leave: (() => void) | null = null;
let onRender: (tab: string) => void = () => undefined;

/** Draws the view of the current URL; an unknown path (or one not allowed) shows the first route. */
export function render(app: HTMLElement): void {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  let found: { r: Route; m: string[] } | undefined;
  for (const r of routes) {
    const m = r.pattern ? r.pattern.exec(path) : r.path === path ? [path] : null;
    if (m) {
      found = { r, m };
      break;
    }
  }
  if (!found) {
    const first = routes[0];
    if (!first) return;
    history.replaceState(null, '', first.path);
    return render(app);
  }
  show(app, found.r.view, found.m.slice(1));
  onRender(found.r.tab);
}

/** Replaces what `app` shows with `view`, stopping the view before. */
export function show(app: HTMLElement, view: View, params: string[] = []): void {
  leave?.();
  leave = null;
  app.replaceChildren();
  const stop = view(app, params);
  if (typeof stop === 'function') leave = stop;
}

/** Goes to `path` (a new history entry, or the current one replaced). */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else if (path !== location.pathname + location.search) history.pushState(null, '', path);
  render(document.getElementById('app') as HTMLElement);
}

/** Sets the routes of the signed-in principal and starts following the URL. */
export function startRouter(app: HTMLElement, table: Route[], tabChanged: (tab: string) => void): void {
  routes = table;
  onRender = tabChanged;
  render(app);
}

/** Stops the current view (signing out). */
export function stopRouter(): void {
  routes = [];
  leave?.();
  leave = null;
}

window.addEventListener('popstate', () => {
  if (routes.length) render(document.getElementById('app') as HTMLElement);
});

document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || !routes.length || e.defaultPrevented || e.button !== 0) return;
  if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
