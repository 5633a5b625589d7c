/**
 * The web console: log in, live calls with listen-in, recordings search / detail / playback /
 * notes / categories / exports, reports, the audit trail, and for admins users and groups, API
 * tokens, settings, keys and delivery status; everyone their own account (Account, in the header).
 * Plain DOM, a file per view (views/), routes in the URL (router.ts); bundled by esbuild.
 */
import { api, beginSession, endSession, session, type Me } from './api.js';
import { h, roleLabel } from './dom.js';
import { LANGUAGE_NAMES, LANGUAGES, isLanguage, register, setLanguage, t, type Language } from './i18n.js';
import { CATALOGUES } from './i18n/catalogues.js';
import { show, startRouter, stopRouter, type Route } from './router.js';
import { accountView } from './views/account.js';
import { auditView } from './views/audit.js';
import { dashboardView } from './views/dashboard.js';
import { deliveryView } from './views/delivery.js';
import { keysView } from './views/keys.js';
import { liveView } from './views/live.js';
import { loginView } from './views/login.js';
import { recordingControlView } from './views/recording-control.js';
import { recordingView } from './views/recording.js';
import { recordingsView } from './views/recordings.js';
import { reportsView } from './views/reports.js';
import { settingsView } from './views/settings.js';
import { tokensView } from './views/tokens.js';
import { usersView } from './views/users.js';

const app = document.getElementById('app') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const whoami = document.getElementById('whoami') as HTMLElement;

/** A route with its tab's label in the current language (the tab's id is tab-<tab>). */
type Tab = Route & { label: string };

/** The views a principal may open, in tab order; the first is where / leads. */
function routesFor(me: Me): Tab[] {
  const staff = me.role !== 'record-only';
  const recordings = t('Recordings');
  return [
    { tab: 'live', label: t('Live'), path: '/live', view: liveView },
    ...(staff
      ? [
          // After Live, not first: sign-in and / still land on Live, the one view every role has.
          { tab: 'dashboard', label: t('Dashboard'), path: '/dashboard', view: dashboardView },
          { tab: 'recordings', label: recordings, path: '/recordings', view: recordingsView },
          {
            tab: 'recordings',
            label: recordings,
            path: '/recordings',
            pattern: /^\/recordings\/([^/]+)$/,
            view: recordingView,
          },
          { tab: 'reports', label: t('Reports'), path: '/reports', view: reportsView },
        ]
      : []),
    ...(me.can.audit ? [{ tab: 'audit', label: t('Audit'), path: '/audit', view: auditView }] : []),
    ...(staff ? [{ tab: 'tokens', label: t('Tokens'), path: '/tokens', view: tokensView }] : []),
    ...(me.can.admin
      ? [
          { tab: 'users', label: t('Users'), path: '/users', view: usersView },
          { tab: 'settings', label: t('Settings'), path: '/settings', view: settingsView },
          {
            tab: 'control',
            label: t('Recording control'),
            path: '/recording-control',
            view: recordingControlView,
          },
          { tab: 'keys', label: t('Keys'), path: '/keys', view: keysView },
          { tab: 'delivery', label: t('Delivery'), path: '/delivery', view: deliveryView },
        ]
      : []),
    // Opened from the header (the Account link), not a tab; the admin token has no password.
    ...(me.userId ? [{ tab: 'account', label: t('Account'), path: '/account', view: account }] : []),
  ];
}

/** The first of the browser's languages the console has (a language alone matches its regions). */
function browserLanguage(): Language {
  for (const want of navigator.languages ?? [navigator.language]) {
    if (isLanguage(want)) return want;
    const base = want.split('-')[0]?.toLowerCase();
    const hit = LANGUAGES.find((l) => l === base || l.split('-')[0] === base);
    if (hit) return hit;
  }
  return 'en';
}

register(...CATALOGUES);

/** The sign-in form is up: drawing it again (a second 401, the sign-out's own answer) would empty what is typed in it. */
let loginShown = false;

function showLogin(message = ''): void {
  if (loginShown && !message) return;
  loginShown = true;
  stopRouter();
  setLanguage(browserLanguage());
  nav.replaceChildren();
  whoami.textContent = '';
  show(app, (el) => loginView(el, message, () => void start()));
}
session.onSignedOut = () => showLogin();

/** A password change ends every session of the user: the header empties, then the sign-in form. */
const account = accountView({
  signedOut: () => {
    stopRouter();
    endSession();
    nav.replaceChildren();
    whoami.textContent = '';
  },
  signIn: () => {
    history.replaceState(null, '', '/');
    showLogin();
  },
});

/**
 * The user's own language: "default" follows their group's, else the site's, else the browser's.
 * A change is saved and the console redrawn in it.
 */
function languagePicker(me: Me): HTMLSelectElement {
  const inherited = me.languageFrom === 'user' ? null : me.language;
  const fallback = LANGUAGE_NAMES[inherited ?? browserLanguage()];
  const pick = h(
    'select',
    {
      id: 'language',
      title: t('Language'),
      'aria-label': t('Language'),
      onchange: () => {
        const language = pick.value === '' ? null : pick.value;
        api('/me/language', { method: 'PUT', body: JSON.stringify({ language }) }).then(
          () => void start(),
          (e: Error) => alert(e.message),
        );
      },
    },
    h('option', { value: '' }, t('Default ({language})', { language: fallback })),
    ...LANGUAGES.map((l) => h('option', { value: l }, LANGUAGE_NAMES[l])),
  );
  pick.value = me.languageFrom === 'user' && me.language ? me.language : '';
  return pick;
}

async function start(): Promise<void> {
  let me: Me;
  try {
    me = await api<Me>('/me');
  } catch {
    return showLogin();
  }
  beginSession(me);
  loginShown = false;
  setLanguage(me.language ?? browserLanguage());
  const logout = () => {
    endSession();
    return api('/logout', { method: 'POST' }).finally(() => showLogin());
  };
  const accountLink = h('a', { id: 'account-link', class: 'button', href: '/account' }, t('Account'));
  whoami.replaceChildren(
    `${me.username} (${roleLabel(me.role)}) `,
    ...(me.userId ? [languagePicker(me), ' ', accountLink, ' '] : []),
    h('button', { id: 'logout', onclick: logout }, t('Log out')),
  );
  const routes = routesFor(me);
  const tabs = routes
    .filter((r) => !r.pattern && r.tab !== 'account')
    .map((r) => h('a', { id: `tab-${r.tab}`, class: 'button', href: r.path }, r.label));
  nav.replaceChildren(...tabs);
  startRouter(app, routes, (tab) => {
    for (const a of tabs) a.classList.toggle('active', a.id === `tab-${tab}`);
    accountLink.classList.toggle('active', tab === 'account');
  });
}

void start();
