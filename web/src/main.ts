/**
 * The web console: log in, live calls with listen-in, recordings search / detail / playback /
 * notes / categories / exports, reports, the audit trail, and for admins users and groups, API
 * tokens, settings, keys and delivery status. Plain DOM, a file per view (views/), routes in the URL
 * (router.ts); bundled by esbuild.
 */
import { api, session, type Me } from './api.js';
import { h } from './dom.js';
import { show, startRouter, stopRouter, type Route } from './router.js';
import { auditView } from './views/audit.js';
import { deliveryView } from './views/delivery.js';
import { keysView } from './views/keys.js';
import { liveView } from './views/live.js';
import { loginView } from './views/login.js';
import { recordingView } from './views/recording.js';
import { recordingsView } from './views/recordings.js';
import { reportsView } from './views/reports.js';
import { settingsView } from './views/settings.js';
import { tokensView } from './views/tokens.js';
import { usersView } from './views/users.js';

const app = document.getElementById('app') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const whoami = document.getElementById('whoami') as HTMLElement;

/** The views a principal may open, in tab order; the first is where / leads. */
function routesFor(me: Me): Route[] {
  const staff = me.role !== 'record-only';
  return [
    { tab: 'Live', path: '/live', view: liveView },
    ...(staff
      ? [
          { tab: 'Recordings', path: '/recordings', view: recordingsView },
          { tab: 'Recordings', path: '/recordings', pattern: /^\/recordings\/([^/]+)$/, view: recordingView },
          { tab: 'Reports', path: '/reports', view: reportsView },
        ]
      : []),
    ...(me.can.audit ? [{ tab: 'Audit', path: '/audit', view: auditView }] : []),
    ...(staff ? [{ tab: 'Tokens', path: '/tokens', view: tokensView }] : []),
    ...(me.can.admin
      ? [
          { tab: 'Users', path: '/users', view: usersView },
          { tab: 'Settings', path: '/settings', view: settingsView },
          { tab: 'Keys', path: '/keys', view: keysView },
          { tab: 'Delivery', path: '/delivery', view: deliveryView },
        ]
      : []),
  ];
}

function showLogin(message = ''): void {
  stopRouter();
  nav.replaceChildren();
  whoami.textContent = '';
  show(app, (el) => loginView(el, message, () => void start()));
}
session.onSignedOut = () => showLogin();

async function start(): Promise<void> {
  try {
    session.me = await api<Me>('/me');
  } catch {
    return showLogin();
  }
  const me = session.me;
  const logout = () => api('/logout', { method: 'POST' }).finally(() => showLogin());
  whoami.replaceChildren(
    `${me.username} (${me.role}) `,
    h('button', { id: 'logout', onclick: logout }, 'Log out'),
  );
  const routes = routesFor(me);
  const tabs = routes
    .filter((r) => !r.pattern)
    .map((r) => h('a', { id: `tab-${r.tab.toLowerCase()}`, class: 'button', href: r.path }, r.tab));
  nav.replaceChildren(...tabs);
  startRouter(app, routes, (tab) => {
    for (const a of tabs) a.classList.toggle('active', a.textContent === tab);
  });
}

void start();
