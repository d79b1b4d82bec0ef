// The application editor of the admin page: a wizard for a new app (client type, then the
// fields that type needs) and the same form prefilled for an existing one (client type and
// secret type read-only; only changed keys are sent). Beside it the endpoints with copy buttons
// and the OAuth 2.0 flow the choices imply.

import * as api from './api.js';
import { canonicalScope, t } from './i18n.js';
import {
  $,
  clearAlert,
  confirmDialog,
  copyButton,
  copyValue,
  focusHeading,
  h,
  newId,
  showAlert,
  showError,
  showStatus,
  showView,
} from './ui.js';

const MAX_ICON_BYTES = 1024 * 1024;
const ICON_TYPES = ['image/png', 'image/jpeg', 'image/gif'];

let ctx = null; // {state, onCancel, onSaved, onCredentials}
let mode = 'create';
let current = null; // the app being edited
let returnFocus = null;
let validationAlert = false; // the alert shows the form's own "check the fields"
const icon = { data: null, removed: false };

const f = {}; // the form's controls, by short name

/** Wires the form once; `hooks` = {state, onCancel(focus), onSaved(focus), onCredentials(answer, how)}. */
export function setupEditor(hooks) {
  ctx = hooks;
  Object.assign(f, {
    form: $('app-form'),
    clientType: $('f-client-type'),
    appType: $('f-app-type'),
    secretType: $('f-secret-type'),
    keyAlg: $('f-key-alg'),
    name: $('f-name'),
    nameField: $('field-name'),
    clientId: $('f-client-id'),
    publicKey: $('f-public-key'),
    scope: $('f-scope'),
    user: $('f-user'),
    offline: $('f-offline'),
    redirects: $('f-redirects'),
    allUsers: $('f-all-users'),
    selectedUsers: $('f-selected-users'),
    groups: $('f-groups'),
    users: $('f-users'),
    description: $('f-description'),
    icon: $('f-icon'),
    iconPreview: $('f-icon-preview'),
    iconRemove: $('f-icon-remove'),
    regenerate: $('regenerate'),
    consent: $('fs-consent'),
  });
  f.nameHome = f.nameField.nextElementSibling;
  for (const el of [f.clientType, f.appType, f.secretType, f.allUsers, f.selectedUsers]) {
    el.addEventListener('change', update);
  }
  f.form.addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  for (const b of document.querySelectorAll('.editor-cancel')) {
    b.addEventListener('click', () => ctx.onCancel(returnFocus));
  }
  f.icon.addEventListener('change', readIcon);
  f.iconRemove.addEventListener('click', removeIcon);
  f.regenerate.addEventListener('click', regenerate);
  // A field's error goes away as soon as it is edited.
  const fields = { 'f-client-type': f.clientType, 'f-app-type': f.appType, 'f-name': f.name, 'f-user': f.user, 'f-redirects': f.redirects };
  for (const [id, el] of Object.entries(fields)) {
    el.addEventListener('input', () => fieldError(id, null));
    el.addEventListener('change', () => fieldError(id, null));
  }
  f.form.addEventListener('change', (e) => {
    if (e.target.matches('[data-kind], [name=authorized]')) fieldError('f-authorized', null);
  });
}

/** Opens the editor: `create` (app null) or `edit` (the app as listed). */
export function openEditor(how, app) {
  mode = how;
  current = app;
  returnFocus = how === 'edit' ? `edit:${app.client_id}` : 'add';
  clearAlert();
  validationAlert = false;
  clearErrors();
  fill(app);
  update();
  $('editor-title').textContent =
    how === 'edit' ? `${t('form.edit')}: ${app.name || app.client_id}` : t('form.create');
  showView('editor');
  window.scrollTo(0, 0);
  if (how === 'create') f.clientType.focus();
  else focusHeading($('editor-title'));
}

// --- Filling ----------------------------------------------------------------------------------

function options(select, values, chosen, { empty = false } = {}) {
  const list = [...values];
  if (chosen && !list.includes(chosen)) list.push(chosen);
  const opts = list.map((v) => h('option', { value: v, selected: v === chosen }, v));
  if (empty) opts.unshift(h('option', { value: '', selected: !chosen }, t('form.select')));
  select.replaceChildren(...opts);
}

function checks(container, values, chosen, kind) {
  const list = [...values];
  for (const c of chosen) if (!list.includes(c)) list.push(c);
  if (!list.length) {
    container.replaceChildren(h('p', { class: 'muted' }, kind === 'group' ? t('form.no_groups') : t('common.none')));
    return;
  }
  container.replaceChildren(
    ...list.map((v) => {
      const id = newId(kind);
      return h(
        'div',
        { class: 'check-item' },
        h('input', { type: 'checkbox', id, value: v, checked: chosen.includes(v), dataset: { kind } }),
        h('label', { for: id }, v),
      );
    }),
  );
}

function fill(app) {
  const s = ctx.state;
  const a = app || {};
  const editing = Boolean(app);
  f.clientType.value = editing ? (a.client_type === 'service_account' ? 'service_account' : 'web') : '';
  f.appType.value = editing && a.client_type !== 'service_account' ? a.client_type : '';
  f.secretType.value = a.secret_type === 'signed_jwt' ? 'signed_jwt' : 'client_secret';
  f.keyAlg.value = 'ES256';
  for (const el of [f.clientType, f.appType, f.secretType]) el.disabled = editing;

  f.name.value = a.name || '';
  const scope = canonicalScope(a.scope) || 'rest.all';
  f.scope.value = scope;
  options(f.user, s.users, a.user || '', { empty: true });
  f.offline.checked = a.offline_access === true;
  f.redirects.value = (Array.isArray(a.redirect_uris) ? a.redirect_uris : []).join('\n');
  const all = a.all_users !== false;
  f.allUsers.checked = all;
  f.selectedUsers.checked = !all;
  checks(f.groups, s.groups, list(a.authorized_groups), 'group');
  checks(f.users, s.users, list(a.authorized_users), 'user');
  f.description.value = a.description || '';
  f.publicKey.value =
    typeof a.jwt_public_key === 'string' ? a.jwt_public_key : a.jwt_public_key ? JSON.stringify(a.jwt_public_key, null, 2) : '';

  icon.data = null;
  icon.removed = false;
  f.icon.value = '';
  showIcon(typeof a.icon_data === 'string' ? a.icon_data : null);
  showIconName(t(typeof a.icon_data === 'string' ? 'form.icon.current' : 'form.icon.none'));

  f.clientId.replaceChildren(
    ...(editing
      ? [h('code', { class: 'client-id' }, a.client_id), copyButton(a.client_id, t('form.client_id'))]
      : [h('span', { class: 'muted' }, t('form.client_id.generated'))]),
  );
  renderEndpoints();
}

function list(v) {
  return Array.isArray(v) ? v.map(String) : [];
}

function renderEndpoints() {
  const e = ctx.state.endpoints || {};
  $('endpoints').replaceChildren(
    ...['auth', 'token', 'revoke']
      .filter((k) => typeof e[k] === 'string')
      .map((k) => copyValue(t(`form.endpoint.${k}`), e[k])),
  );
}

// --- What the choices imply -------------------------------------------------------------------

/** service_account, web_app, native_app, or null while not chosen. */
function kind() {
  if (f.clientType.value === 'service_account') return 'service_account';
  if (f.clientType.value === 'web') return f.appType.value || null;
  return null;
}

function flags() {
  const k = kind();
  return {
    service: f.clientType.value === 'service_account',
    web: f.clientType.value === 'web',
    chosen: k !== null,
    jwt: k === 'service_account' && f.secretType.value === 'signed_jwt',
    create: mode === 'create',
    edit: mode === 'edit',
    secretful: k === 'service_account' || k === 'web_app',
    selected: f.selectedUsers.checked,
  };
}

function flowKey() {
  const k = kind();
  if (k === 'service_account') return f.secretType.value === 'signed_jwt' ? 'flow.jwt' : 'flow.client_credentials';
  if (k === 'web_app') return 'flow.code';
  if (k === 'native_app') return 'flow.pkce';
  return 'form.flow.unknown';
}

/** Shows the fields the current choices need and names the flow. */
function update() {
  const on = flags();
  for (const el of f.form.querySelectorAll('[data-show]')) {
    el.hidden = !el.dataset.show.split(' ').every((c) => on[c]);
  }
  // The name is part of the consent screen for apps users authorize.
  if (on.web) f.consent.querySelector('.help').after(f.nameField);
  else f.nameHome.before(f.nameField);
  $('flow').textContent = t(flowKey());
  $('flow').classList.toggle('muted', !on.chosen);
  f.regenerate.textContent = t(on.jwt ? 'form.regenerate.key' : 'form.regenerate.secret');
}

// --- Icon ---------------------------------------------------------------------------------------

/** The file name next to the chooser: the chosen file, the current icon, or none. */
function showIconName(text) {
  $('f-icon-name').textContent = text;
}

function showIcon(uri) {
  f.iconPreview.hidden = !uri;
  if (uri) f.iconPreview.src = uri;
  else f.iconPreview.removeAttribute('src');
  f.iconRemove.hidden = !uri;
}

function readIcon() {
  fieldError('f-icon', null);
  const file = f.icon.files?.[0];
  if (!file) return;
  if (!ICON_TYPES.includes(file.type)) {
    fieldError('f-icon', t('form.icon.bad_type'));
    f.icon.value = '';
    return;
  }
  if (file.size > MAX_ICON_BYTES) {
    fieldError('f-icon', t('form.icon.too_big'));
    f.icon.value = '';
    return;
  }
  const reader = new FileReader();
  reader.addEventListener('load', () => {
    icon.data = String(reader.result);
    icon.removed = false;
    showIcon(icon.data);
    showIconName(file.name);
  });
  reader.addEventListener('error', () => fieldError('f-icon', t('form.icon.bad_type')));
  reader.readAsDataURL(file);
}

function removeIcon() {
  icon.data = null;
  icon.removed = Boolean(current?.icon_data || current?.icon);
  f.icon.value = '';
  showIcon(null);
  showIconName(t('form.icon.none'));
  if (icon.removed) showStatus(t('form.icon.removed'));
  f.icon.focus();
}

// --- Validation --------------------------------------------------------------------------------

function fieldError(id, message) {
  const el = document.getElementById(id);
  const box = document.getElementById(`${id}-error`);
  if (el?.matches('input, select, textarea')) el.setAttribute('aria-invalid', String(Boolean(message)));
  if (box) {
    box.textContent = message || '';
    box.hidden = !message;
  }
  // "Check the highlighted fields" goes once nothing is highlighted any more.
  if (!message && validationAlert && !f.form.querySelector('.field-error:not([hidden])')) {
    validationAlert = false;
    clearAlert();
  }
}

function clearErrors() {
  for (const id of ['f-client-type', 'f-app-type', 'f-name', 'f-user', 'f-redirects', 'f-icon']) fieldError(id, null);
  fieldError('f-authorized', null);
}

function redirectList() {
  return f.redirects.value
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function validate() {
  clearErrors();
  validationAlert = false;
  const on = flags();
  const problems = [];
  const fail = (id, message, focus = id) => {
    fieldError(id, message);
    problems.push(focus);
  };
  if (!f.clientType.value) fail('f-client-type', t('form.required_choice'));
  else if (on.web && !f.appType.value) fail('f-app-type', t('form.required_choice'));
  if (on.chosen) {
    if (!f.name.value.trim()) fail('f-name', t('form.required'));
    if (on.service && !f.user.value) fail('f-user', t('form.required_choice'));
    if (on.web) {
      const uris = redirectList();
      const bad = uris.map(uriProblem).find(Boolean);
      if (!uris.length) fail('f-redirects', t('form.need_uri'));
      else if (bad) fail('f-redirects', bad);
      if (on.selected && !checked('user').length && !checked('group').length) {
        fail('f-authorized', t('form.need_selection'), 'f-selected-users');
      }
    }
  }
  if (problems.length) {
    showAlert(t('form.invalid'));
    validationAlert = true;
    $(problems[0]).focus();
    return false;
  }
  return true;
}

/** Why a redirect URI would be refused (the gateway's rules), or null. */
function uriProblem(uri) {
  let u;
  try {
    u = new URL(uri);
  } catch {
    return t('form.bad_uri', { uri });
  }
  if (/\s/.test(uri) || ['javascript:', 'data:', 'file:', 'vbscript:'].includes(u.protocol)) {
    return t('form.bad_uri', { uri });
  }
  if (uri.includes('#')) return t('form.uri_fragment', { uri });
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  if (u.protocol === 'http:' && !loopback) return t('form.uri_http', { uri });
  return null;
}

function checked(kindName) {
  return [...f.form.querySelectorAll(`input[data-kind="${kindName}"]:checked`)].map((i) => i.value);
}

// --- Saving -------------------------------------------------------------------------------------

/** The editable keys as the form has them, for the app's kind. */
function values() {
  const k = kind();
  const v = { name: f.name.value.trim(), scope: f.scope.value };
  if (k === 'service_account') {
    v.user = f.user.value;
  } else {
    const all = f.allUsers.checked;
    Object.assign(v, {
      description: f.description.value.trim(),
      redirect_uris: redirectList(),
      offline_access: f.offline.checked,
      all_users: all,
      authorized_users: all ? [] : checked('user'),
      authorized_groups: all ? [] : checked('group'),
    });
  }
  return v;
}

/** The same keys as the edited app has them. */
function originalValues(app) {
  const v = { name: app.name || '', scope: canonicalScope(app.scope) || app.scope || '' };
  if (app.client_type === 'service_account') {
    v.user = app.user || '';
  } else {
    Object.assign(v, {
      description: app.description || '',
      redirect_uris: list(app.redirect_uris),
      offline_access: app.offline_access === true,
      all_users: app.all_users !== false,
      authorized_users: list(app.authorized_users),
      authorized_groups: list(app.authorized_groups),
    });
  }
  return v;
}

const SETS = new Set(['authorized_users', 'authorized_groups']);

function same(key, a, b) {
  if (SETS.has(key)) return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  return JSON.stringify(a) === JSON.stringify(b);
}

function changes() {
  const now = values();
  const before = originalValues(current);
  const out = {};
  for (const [key, value] of Object.entries(now)) {
    if (!same(key, value, before[key])) out[key] = value;
  }
  if (icon.data) out.icon_data = icon.data;
  else if (icon.removed) out.icon = '';
  return out;
}

function newApp() {
  const k = kind();
  const body = { client_type: k, ...values(), enabled: true };
  if (k === 'service_account') {
    body.secret_type = f.secretType.value;
    if (body.secret_type === 'signed_jwt') body.key_algorithm = f.keyAlg.value;
  } else if (k === 'web_app') {
    body.secret_type = 'client_secret';
  }
  if (icon.data) body.icon_data = icon.data;
  return body;
}

async function save() {
  if (!validate()) return;
  const buttons = f.form.querySelectorAll('button[type=submit]');
  for (const b of buttons) b.disabled = true;
  try {
    if (mode === 'create') {
      const answer = await api.post('apps', newApp());
      clearAlert();
      ctx.onCredentials(answer, 'created');
    } else {
      const body = changes();
      if (!Object.keys(body).length) {
        showStatus(t('form.no_changes'));
        ctx.onCancel(returnFocus);
        return;
      }
      await api.patch(`apps/${api.seg(current.client_id)}`, body);
      clearAlert();
      showStatus(t('common.saved'));
      await ctx.onSaved(returnFocus);
    }
  } catch (e) {
    showError(e);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function regenerate() {
  const jwt = current.secret_type === 'signed_jwt';
  const name = current.name || current.client_id;
  let extra = null;
  let alg = null;
  if (jwt) {
    const id = newId('alg');
    alg = h(
      'select',
      { id },
      ['ES256', 'RS256'].map((a) => h('option', { value: a }, t(`form.key_algorithm.${a}`))),
    );
    extra = h('div', { class: 'field' }, h('label', { for: id }, t('form.key_algorithm')), alg);
  }
  const ok = await confirmDialog({
    title: t('form.regenerate.title'),
    text: t(jwt ? 'form.regenerate.key_text' : 'form.regenerate.text', { name }),
    confirm: t(jwt ? 'form.regenerate.key' : 'form.regenerate.secret'),
    extra,
  });
  if (!ok) return;
  try {
    const answer = await api.post(
      `apps/${api.seg(current.client_id)}/secret`,
      jwt ? { key_algorithm: alg.value } : {},
    );
    clearAlert();
    ctx.onCredentials({ ...current, ...answer }, 'regenerated');
  } catch (e) {
    showError(e);
  }
}
