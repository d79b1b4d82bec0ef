// The admin page (/gateway/admin/): global settings, the registered applications with their
// enabled switch and tools (edit, revoke all tokens, delete), and the editor (app-form.js) and
// the once-only credentials (result.js) it leads to. For users with admin = true.

import * as api from './api.js';
import { openEditor, setupEditor } from './app-form.js';
import { plural, t } from './i18n.js';
import { showResult, setupResult } from './result.js';
import {
  $,
  appIcon,
  clearAlert,
  clientTypeWords,
  confirmDialog,
  focusHeading,
  h,
  showError,
  showStatus,
  showView,
  startPage,
  tokenWords,
} from './ui.js';

/** What the page shows; replaced by every load. */
export const state = {
  settings: {},
  apps: [],
  users: [],
  groups: [],
  endpoints: {},
};

const SETTINGS = ['oauth_enabled', 'users_can_manage_secrets', 'allow_admin_users'];

/** Loads settings and apps and shows them; keeps the focused control focused. */
export async function refresh() {
  const [settings, listing] = await Promise.all([api.get('settings'), api.get('apps')]);
  state.settings = settings || {};
  state.apps = Array.isArray(listing?.apps) ? listing.apps : [];
  state.users = Array.isArray(listing?.users) ? listing.users.map(String) : [];
  state.groups = Array.isArray(listing?.groups) ? listing.groups.map(String) : [];
  state.endpoints = listing?.endpoints || {};
  renderSettings();
  renderApps();
}

/** Back to the list, reloading it; `focus` is a data-focus key to put the focus on. */
export async function showList({ focus = null, reload = true } = {}) {
  showView('list');
  if (reload) {
    try {
      await refresh();
    } catch (e) {
      showError(e);
    }
  }
  const target = focus && document.querySelector(`[data-focus="${CSS.escape(focus)}"]`);
  if (target) target.focus();
}

// --- Settings ----------------------------------------------------------------------------------

function renderSettings() {
  for (const key of SETTINGS) {
    const input = $(`set-${key}`);
    input.checked = state.settings[key] === true;
    input.setAttribute('aria-checked', String(input.checked));
  }
}

function setupSettings() {
  for (const key of SETTINGS) {
    const input = $(`set-${key}`);
    input.addEventListener('change', async () => {
      const value = input.checked;
      input.setAttribute('aria-checked', String(value));
      input.disabled = true;
      try {
        const answer = await api.put('settings', { [key]: value });
        state.settings = { ...state.settings, ...(answer || {}) };
        clearAlert();
        showStatus(
          t('settings.changed', {
            setting: t(`settings.${key}`),
            state: t(state.settings[key] ? 'settings.on' : 'settings.off'),
          }),
        );
      } catch (e) {
        showError(e);
      } finally {
        input.disabled = false;
        renderSettings();
        input.focus();
      }
    });
  }
}

// --- The list ----------------------------------------------------------------------------------

function usersCell(app) {
  if (app.client_type === 'service_account') return h('span', {}, app.user || '');
  if (app.all_users !== false) return h('span', {}, t('apps.users.all'));
  const users = Array.isArray(app.authorized_users) ? app.authorized_users : [];
  const groups = Array.isArray(app.authorized_groups) ? app.authorized_groups : [];
  const who = [
    users.join(', '),
    groups.length ? t('apps.users.groups', { list: groups.join(', ') }) : '',
  ].filter(Boolean);
  return [
    h('span', {}, t('apps.users.selected')),
    h('span', { class: 'sub' }, who.length ? who.join('; ') : t('apps.users.nobody')),
  ];
}

function cell(labelKey, ...content) {
  // One wrapper, so the phone layout (label | value grid) sees one value.
  return h('td', { 'data-label': t(labelKey) }, h('div', { class: 'cell-value' }, content));
}

function appRow(app) {
  const id = app.client_id;
  const name = app.name || id;
  const enabled = h('input', {
    type: 'checkbox',
    role: 'switch',
    checked: app.enabled !== false,
    'aria-checked': String(app.enabled !== false),
    'aria-label': t('apps.enabled_label', { name }),
    dataset: { focus: `enabled:${id}` },
  });
  enabled.addEventListener('change', () => toggleEnabled(app, enabled));
  const tool = (key, named, action, extra = '') =>
    h('button', {
      type: 'button',
      class: ['secondary', 'small', extra],
      'aria-label': t(named, { name }),
      dataset: { focus: `${key}:${id}` },
      onclick: action,
    }, t(`apps.${key}`));
  const disabled = app.enabled === false;
  return h(
    'tr',
    { class: disabled ? 'is-disabled' : null },
    h('td', { class: 'col-icon', 'data-label': t('apps.col.icon') }, appIcon(app)),
    h('th', { scope: 'row', class: 'app-name', 'data-label': t('apps.col.name') }, name),
    cell('apps.col.client_type', clientTypeWords(app)),
    cell('apps.col.client_id', h('code', { class: 'client-id' }, id)),
    cell('apps.col.users', usersCell(app)),
    cell('apps.col.tokens', tokenWords(app)),
    cell('apps.col.enabled', enabled),
    h(
      'td',
      { class: 'col-tools', 'data-label': t('apps.col.tools') },
      h(
        'div',
        { class: 'tools' },
        tool('edit', 'apps.edit_named', () => openEditor('edit', app)),
        tool('revoke', 'apps.revoke_named', () => revokeAll(app)),
        tool('delete', 'apps.delete_named', () => deleteApp(app), 'danger-outline'),
      ),
    ),
  );
}

function renderApps() {
  const focused = document.activeElement?.dataset?.focus;
  const body = $('apps-body');
  body.replaceChildren(...state.apps.map(appRow));
  $('apps-empty').hidden = state.apps.length > 0;
  $('apps-table').hidden = state.apps.length === 0;
  if (focused) document.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

// --- Row actions -------------------------------------------------------------------------------

async function toggleEnabled(app, input) {
  const value = input.checked;
  const name = app.name || app.client_id;
  input.disabled = true;
  try {
    await api.patch(`apps/${api.seg(app.client_id)}`, { enabled: value });
    clearAlert();
    showStatus(t(value ? 'apps.enabled_now' : 'apps.disabled_now', { name }));
  } catch (e) {
    input.checked = !value;
    showError(e);
  } finally {
    input.disabled = false;
  }
  await showList({ focus: `enabled:${app.client_id}` });
}

async function revokeAll(app) {
  const name = app.name || app.client_id;
  const ok = await confirmDialog({
    title: t('apps.revoke.title'),
    text: t('apps.revoke.text', { name }),
    confirm: t('apps.revoke.confirm'),
  });
  if (!ok) return;
  try {
    const answer = await api.post(`apps/${api.seg(app.client_id)}/revoke`);
    clearAlert();
    showStatus(`${name}: ${plural('apps.revoked', Number(answer?.revoked) || 0)}`);
  } catch (e) {
    showError(e);
  }
  await showList({ focus: `revoke:${app.client_id}` });
}

async function deleteApp(app) {
  const name = app.name || app.client_id;
  const ok = await confirmDialog({
    title: t('apps.delete.title'),
    text: t('apps.delete.text', { name, id: app.client_id }),
    confirm: t('apps.delete.confirm', { name }),
  });
  if (!ok) return;
  try {
    await api.del(`apps/${api.seg(app.client_id)}`);
    clearAlert();
    showStatus(t('apps.deleted', { name }));
    await showList({ focus: 'add' });
  } catch (e) {
    showError(e);
    await showList({ focus: `delete:${app.client_id}` });
  }
}

// --- Start -------------------------------------------------------------------------------------

function setup() {
  setupSettings();
  $('add-app').dataset.focus = 'add';
  $('add-app').addEventListener('click', () => openEditor('create', null));
  setupEditor({
    state,
    onCancel: (focus) => showList({ focus, reload: false }),
    onSaved: (focus) => showList({ focus }),
    onCredentials: (answer, how) => showResult(answer, how),
  });
  setupResult({ onDone: (focus) => showList({ focus }) });
}

setup();
startPage({
  adminOnly: true,
  onReady: async () => {
    showView('loading');
    try {
      await refresh();
    } catch (e) {
      showError(e);
    }
    showView('list');
    focusHeading($('settings-title'));
  },
  onSignedOut: () => {
    state.apps = [];
    $('apps-body').replaceChildren();
  },
});
