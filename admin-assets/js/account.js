// The "Connected applications" page (/gateway/account/), for any signed-in user: the service
// accounts bound to the user (secret with show and copy, and a new one, when the admins allow
// it) and the apps the user authorized (revoke access). Each app's details read-only; admins
// also get a Disable/Enable button (through the admin API).

import * as api from './api.js';
import { formatTime, scopeWords, t } from './i18n.js';
import {
  $,
  appIcon,
  clearAlert,
  confirmDialog,
  copyButton,
  copyField,
  focusHeading,
  h,
  showError,
  showStatus,
  showView,
  startPage,
  tokenWords,
} from './ui.js';

const state = { user: {}, settings: {}, bound: [], authorized: [] };
/** Secrets the API answered in this page's life (a new one is shown even if the list hides it). */
const fresh = new Map();

async function refresh() {
  const answer = await api.get('me/apps');
  state.user = answer?.user || state.user;
  state.settings = answer?.settings || {};
  state.bound = Array.isArray(answer?.bound) ? answer.bound : [];
  state.authorized = Array.isArray(answer?.authorized) ? answer.authorized : [];
  render();
}

async function reload(focus) {
  try {
    await refresh();
  } catch (e) {
    showError(e);
  }
  if (focus) document.querySelector(`[data-focus="${CSS.escape(focus)}"]`)?.focus();
}

// --- Pieces -----------------------------------------------------------------------------------

function typeWords(app) {
  if (app.client_type === 'service_account') return t('apps.type.service_account');
  if (app.client_type === 'native_app') return `${t('apps.type.web')} (${t('apps.type.native_app')})`;
  return `${t('apps.type.web')} (${t('apps.type.web_app')})`;
}

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== '')
      .map(([label, value]) => h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value))),
  );
}

function yesNo(v) {
  return t(v ? 'common.yes' : 'common.no');
}

/** The app's configuration, read-only. */
function details(app) {
  const web = app.client_type !== 'service_account';
  const who = () => {
    if (app.all_users !== false) return t('apps.users.all');
    const parts = [...(app.authorized_users || [])];
    if (app.authorized_groups?.length) parts.push(t('apps.users.groups', { list: app.authorized_groups.join(', ') }));
    return `${t('apps.users.selected')}: ${parts.join('; ') || t('apps.users.nobody')}`;
  };
  return h(
    'details',
    { class: 'app-details' },
    h('summary', {}, t('common.details')),
    facts([
      [t('account.client_type'), typeWords(app)],
      [t('account.client_id'), h('code', {}, app.client_id)],
      [t('account.description'), app.description || null],
      [t('account.scope'), app.scope ? `${app.scope}` : null],
      [t('account.user'), web ? null : app.user],
      [t('account.offline'), web ? yesNo(app.offline_access === true) : null],
      [t('account.redirect_uris'), web && app.redirect_uris?.length ? h('ul', { class: 'plain' }, app.redirect_uris.map((u) => h('li', {}, h('code', {}, u)))) : null],
      [t('apps.col.users'), web ? who() : null],
      [t('apps.col.tokens'), tokenWords(app)],
      [t('account.enabled'), yesNo(app.enabled !== false)],
    ]),
  );
}

function head(app) {
  const name = app.name || app.client_id;
  return h(
    'div',
    { class: 'card-head' },
    appIcon(app, 'card'),
    h(
      'div',
      { class: 'card-title' },
      h('h3', {}, name),
      app.enabled === false ? h('span', { class: 'badge off' }, t('account.state.disabled')) : null,
    ),
  );
}

function button(label, key, app, action, { danger = false, aria = null } = {}) {
  return h('button', {
    type: 'button',
    class: ['secondary', 'small', danger && 'danger-outline'],
    dataset: { focus: `${key}:${app.client_id}` },
    'aria-label': aria,
    onclick: action,
  }, label);
}

function adminButton(app) {
  if (!state.user.admin) return null;
  const enabled = app.enabled !== false;
  return button(t(enabled ? 'account.disable' : 'account.enable'), 'toggle', app, () => toggle(app), { danger: enabled });
}

// --- Bound to you -----------------------------------------------------------------------------

function secretPart(app) {
  const secret = fresh.get(app.client_id) ?? app.client_secret;
  if (typeof secret === 'string') return copyField(t('account.secret'), secret, { secret: true });
  if (app.secret_type === 'signed_jwt') return h('p', { class: 'muted' }, t('account.secret.signed_jwt'));
  if (!state.settings.users_can_manage_secrets) return h('p', { class: 'muted' }, t('account.secret.not_shown'));
  return h('p', { class: 'muted' }, t('account.secret.unavailable'));
}

function boundCard(app) {
  const name = app.name || app.client_id;
  const canRenew = state.settings.users_can_manage_secrets === true && app.secret_type !== 'signed_jwt';
  return h(
    'li',
    { class: ['app-card', app.enabled === false && 'is-disabled'] },
    head(app),
    facts([
      [t('account.client_id'), h('span', { class: 'inline-copy' }, h('code', {}, app.client_id), copyButton(app.client_id, `${t('account.client_id')} ${name}`))],
      [t('account.scope'), `${app.scope || ''} — ${scopeWords(app.scope, { bound: true })}`],
      [t('apps.col.tokens'), tokenWords(app)],
    ]),
    secretPart(app),
    h(
      'div',
      { class: 'card-actions' },
      canRenew ? button(t('account.regenerate'), 'secret', app, () => renew(app)) : null,
      button(t('account.revoke_tokens'), 'revoke', app, () => revoke(app, true)),
      adminButton(app),
    ),
    details(app),
  );
}

// --- Authorized by you ------------------------------------------------------------------------

function authorizedCard(app) {
  const name = app.name || app.client_id;
  return h(
    'li',
    { class: ['app-card', app.enabled === false && 'is-disabled'] },
    head(app),
    app.description ? h('p', { class: 'desc' }, app.description) : null,
    facts([
      [t('account.scope'), scopeWords(app.scope)],
      [t('account.authorized_at'), formatTime(app.authorized_at)],
      [t('account.grants'), typeof app.grants === 'number' && app.grants > 1 ? String(app.grants) : null],
    ]),
    h(
      'div',
      { class: 'card-actions' },
      button(t('account.revoke'), 'revoke', app, () => revoke(app, false), {
        danger: true,
        aria: t('account.revoke_named', { name }),
      }),
      adminButton(app),
    ),
    details(app),
  );
}

function render() {
  const focused = document.activeElement?.dataset?.focus;
  $('bound-list').replaceChildren(...state.bound.map(boundCard));
  $('bound-empty').hidden = state.bound.length > 0;
  $('authorized-list').replaceChildren(...state.authorized.map(authorizedCard));
  $('authorized-empty').hidden = state.authorized.length > 0;
  if (focused) document.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

// --- Actions ----------------------------------------------------------------------------------

async function revoke(app, bound) {
  const name = app.name || app.client_id;
  const ok = await confirmDialog({
    title: t('account.revoke.title'),
    text: t(bound ? 'account.revoke_bound.text' : 'account.revoke.text', { name }),
    confirm: t(bound ? 'account.revoke_tokens' : 'account.revoke'),
  });
  if (!ok) return;
  try {
    await api.post(`me/apps/${api.seg(app.client_id)}/revoke`);
    clearAlert();
    showStatus(t('account.revoked', { name }));
  } catch (e) {
    showError(e);
  }
  await reload(`revoke:${app.client_id}`);
  if (!document.activeElement || document.activeElement === document.body) focusHeading($(bound ? 'bound-title' : 'authorized-title'));
}

async function renew(app) {
  const name = app.name || app.client_id;
  const ok = await confirmDialog({
    title: t('account.regenerate.title'),
    text: t('account.regenerate.text', { name }),
    confirm: t('account.regenerate'),
  });
  if (!ok) return;
  try {
    const answer = await api.post(`me/apps/${api.seg(app.client_id)}/secret`);
    if (typeof answer?.client_secret === 'string') fresh.set(app.client_id, answer.client_secret);
    clearAlert();
    showStatus(t('account.regenerated', { name }));
  } catch (e) {
    showError(e);
  }
  await reload(`secret:${app.client_id}`);
}

async function toggle(app) {
  const name = app.name || app.client_id;
  const enable = app.enabled === false;
  if (!enable) {
    const ok = await confirmDialog({
      title: t('account.disable.title'),
      text: t('account.disable.text', { name }),
      confirm: t('account.disable'),
    });
    if (!ok) return;
  }
  try {
    await api.patch(`apps/${api.seg(app.client_id)}`, { enabled: enable });
    clearAlert();
    showStatus(t(enable ? 'account.enabled_now' : 'account.disabled_now', { name }));
  } catch (e) {
    showError(e);
  }
  await reload(`toggle:${app.client_id}`);
}

startPage({
  adminOnly: false,
  onReady: async (user) => {
    state.user = user;
    showView('loading');
    try {
      await refresh();
    } catch (e) {
      showError(e);
    }
    showView('list');
    focusHeading($('bound-title'));
  },
  onSignedOut: () => {
    fresh.clear();
    state.bound = [];
    state.authorized = [];
    $('bound-list').replaceChildren();
    $('authorized-list').replaceChildren();
  },
});
