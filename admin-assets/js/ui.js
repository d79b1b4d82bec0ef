// What the admin and account pages share: building elements without innerHTML, the alert and
// status areas, the confirmation dialog, copy buttons, read-only fields with copy, and the
// session around a page (login form, "signed in as", sign out, session ended).

import { ApiError, login, logout, onUnauthorized, session } from './api.js';
import { applyI18n, plural, t } from './i18n.js';

/** The element with this id (throws when the page lacks it: a bug). */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id} on the page`);
  return el;
}

/**
 * `h('button', {class: 'x', type: 'button', onclick: fn, 'aria-label': '…'}, 'text', node)`.
 * Strings become text nodes; null/false children are skipped; `class` may be an array;
 * boolean attributes are set when true; `on*` functions become listeners.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (key === 'text') {
      el.textContent = value;
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uid = 0;
/** A fresh id for label/control pairs built in code. */
export function newId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// --- Alerts and status -------------------------------------------------------------------------

let statusTimer = null;

/** A short confirmation ("Saved.") in the polite status area, cleared after a while. */
export function showStatus(text) {
  const area = $('status');
  area.replaceChildren(h('p', { class: 'notice' }, text));
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => area.replaceChildren(), 6000);
}

/** Empties the alert area. */
export function clearAlert() {
  $('alert').replaceChildren();
}

/** A message in the alert area (role="alert"), with optional list and buttons. */
export function showAlert(message, { detail = '', problems = [], actions = [] } = {}) {
  const area = $('alert');
  const dismiss = h('button', { type: 'button', class: 'secondary small', onclick: clearAlert }, t('err.dismiss'));
  area.replaceChildren(
    h(
      'div',
      { class: 'alert-box' },
      h('p', { class: 'alert-message' }, message),
      detail ? h('p', { class: 'alert-detail' }, detail) : null,
      problems.length
        ? [h('p', { class: 'alert-detail' }, t('err.problems')), h('ul', { class: 'problems' }, problems.map((p) => h('li', {}, h('code', {}, p))))]
        : null,
      h('div', { class: 'alert-actions' }, actions, dismiss),
    ),
  );
  area.scrollIntoView({ block: 'nearest' });
}

/** An API (or any) error in the alert area, in words: 409 offers a reload. */
export function showError(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    showAlert(t('err.title'), { detail: String(error?.message || error) });
    return;
  }
  if (error.status === 0) {
    showAlert(t('err.network'));
    return;
  }
  if (error.status === 401) {
    // The session ended under the page: the login form is back (see startPage).
    showAlert(t('login.expired'));
    return;
  }
  if (error.status === 409) {
    const reload = h('button', { type: 'button', onclick: () => window.location.reload() }, t('err.reload'));
    showAlert(t('err.conflict'), { detail: error.message, actions: [reload] });
    return;
  }
  const known = `err.${error.code}`;
  const summary = [
    'invalid',
    'unauthorized',
    'forbidden',
    'not_found',
    'too_many_requests',
    'unavailable',
  ].includes(error.code)
    ? t(known)
    : t('err.status', { status: error.status });
  // The API's own sentence is the detail; the summary says the same when it is missing.
  showAlert(summary, { detail: error.message, problems: error.problems });
}

// --- Dialogs -----------------------------------------------------------------------------------

/**
 * A modal confirmation: resolves true when confirmed. `extra` (a node) goes between the text
 * and the buttons, e.g. a choice the confirmation carries. Focus starts on Cancel and returns
 * to where it was (or to `returnFocus()`).
 */
export function confirmDialog({ title, text, confirm, danger = true, extra = null, returnFocus = null }) {
  const dialog = $('confirm-dialog');
  const opener = document.activeElement;
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-extra').replaceChildren(...(extra ? [extra] : []));
  const ok = $('confirm-ok');
  ok.textContent = confirm;
  ok.classList.toggle('danger', danger);
  $('confirm-cancel').textContent = t('common.cancel');
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'ok');
        const target = returnFocus?.() || opener;
        if (target && target.isConnected && typeof target.focus === 'function') target.focus();
      },
      { once: true },
    );
  });
}

// --- Copying -----------------------------------------------------------------------------------

/** Copies text: the Clipboard API, or a hidden textarea and execCommand where it is missing. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (permissions, focus): fall through to the old way.
    }
  }
  const active = document.activeElement;
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  if (active && typeof active.focus === 'function') active.focus();
  return ok;
}

/** A "Copy" button for the text `value()` returns; `what` names it for screen readers. */
export function copyButton(value, what) {
  const button = h('button', {
    type: 'button',
    class: 'secondary small copy',
    'aria-label': t('common.copy_named', { what }),
  }, t('common.copy'));
  button.addEventListener('click', async () => {
    const ok = await copyText(typeof value === 'function' ? value() : value);
    if (ok) {
      showStatus(`${what}: ${t('common.copied')}`);
      button.classList.add('done');
      setTimeout(() => button.classList.remove('done'), 1500);
    } else {
      showAlert(t('common.copy_failed'));
    }
  });
  return button;
}

/**
 * A labelled read-only value with a Copy button: an input for one line, a textarea for
 * several (`rows`). `secret` masks it behind a Show/Hide toggle.
 */
export function copyField(label, value, { rows = 0, secret = false, wide = false } = {}) {
  const id = newId('copy');
  const control = rows
    ? h('textarea', { id, readonly: true, rows, class: 'mono', spellcheck: 'false' })
    : h('input', { id, type: secret ? 'password' : 'text', readonly: true, class: 'mono', spellcheck: 'false', autocomplete: 'off' });
  control.value = value;
  const buttons = [];
  if (secret && !rows) {
    const toggle = h('button', { type: 'button', class: 'secondary small', 'aria-pressed': 'false', 'aria-controls': id }, t('common.show'));
    toggle.addEventListener('click', () => {
      const shown = control.type === 'text';
      control.type = shown ? 'password' : 'text';
      toggle.setAttribute('aria-pressed', String(!shown));
      toggle.textContent = shown ? t('common.show') : t('common.hide');
    });
    buttons.push(toggle);
  }
  buttons.push(copyButton(() => control.value, label));
  return h(
    'div',
    { class: ['copy-field', rows && 'multi', wide && 'wide'] },
    h('label', { for: id }, label),
    h('div', { class: 'copy-line' }, control, h('div', { class: 'copy-buttons' }, buttons)),
  );
}

/** A labelled value shown in full (wrapping), with a Copy button: for URLs in narrow places. */
export function copyValue(label, value) {
  const id = newId('val');
  return h(
    'div',
    { class: 'copy-value' },
    h('span', { class: 'label', id }, label),
    h('div', { class: 'copy-line' }, h('code', { 'aria-labelledby': id }, value), copyButton(value, label)),
  );
}

/** A `data:` URL download link (blob: URLs are not allowed by the pages' CSP). */
export function downloadLink(label, filename, mime, text) {
  return h('a', {
    class: 'button-link',
    download: filename,
    href: `data:${mime};charset=utf-8,${encodeURIComponent(text)}`,
  }, label);
}

// --- Views -------------------------------------------------------------------------------------

/** Shows the `[data-view]` section with this name and hides the others. */
export function showView(name) {
  for (const el of document.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== name;
}

/** Moves focus to an element that is not focusable by itself (a heading), for screen readers. */
export function focusHeading(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus();
}

// --- The session around a page -----------------------------------------------------------------

/**
 * Starts a page: fills in its words, then shows the login form or, with a session, calls
 * `onReady(user)`. `adminOnly` pages show a refusal to other users. `onSignedOut()` lets the
 * page forget its data when the session ends.
 */
export async function startPage({ adminOnly, onReady, onSignedOut = () => {} }) {
  applyI18n();
  document.title = t(adminOnly ? 'page.admin.title' : 'page.account.title');
  const form = $('login-form');
  const nav = $('session-nav');

  const signedOut = (message) => {
    nav.hidden = true;
    onSignedOut();
    showView('login');
    if (message) showAlert(message);
    $('login-username').focus();
  };

  const enter = async (answer) => {
    const user = answer.user || {};
    $('session-user').textContent = user.name ? `${user.name} (${user.username})` : user.username || '';
    const other = $('other-page');
    other.hidden = !adminOnly && !user.admin;
    nav.hidden = false;
    clearAlert();
    if (adminOnly && !user.admin) {
      $('denied-text').textContent = t('login.not_admin', { user: user.username || '' });
      showView('denied');
      focusHeading($('denied-text'));
      return;
    }
    await onReady(user);
  };

  onUnauthorized(() => signedOut(t('login.expired')));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = $('login-username').value.trim();
    const password = $('login-password').value;
    const missing = [!username && $('login-username'), !password && $('login-password')].filter(Boolean);
    for (const input of [$('login-username'), $('login-password')]) {
      input.setAttribute('aria-invalid', String(missing.includes(input)));
    }
    if (missing.length) {
      showAlert(t('form.invalid'));
      missing[0].focus();
      return;
    }
    const submit = form.querySelector('button[type=submit]');
    submit.disabled = true;
    try {
      const answer = await login(username, password);
      $('login-password').value = '';
      await enter(answer);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        showAlert(t('login.bad'));
        $('login-password').select();
      } else if (e instanceof ApiError && e.status === 429) {
        const minutes = e.retryAfter ? Math.max(1, Math.ceil(e.retryAfter / 60)) : null;
        showAlert(minutes ? t('login.throttled_for', { minutes }) : t('login.throttled'));
      } else {
        showError(e);
      }
    } finally {
      submit.disabled = false;
    }
  });

  $('logout').addEventListener('click', async () => {
    try {
      await logout();
    } catch (e) {
      showError(e);
      return;
    }
    signedOut(null);
  });

  showView('loading');
  let answer;
  try {
    answer = await session();
  } catch (e) {
    showView('login');
    showError(e);
    return;
  }
  if (answer) {
    await enter(answer);
  } else {
    showView('login');
    $('login-username').focus();
  }
}

// --- Applications in words ---------------------------------------------------------------------

/** "Service account" or "Web or mobile app". */
export function clientTypeWords(app) {
  return t(app.client_type === 'service_account' ? 'apps.type.service_account' : 'apps.type.web');
}

/** "No active tokens", "3 active tokens", "2 expired tokens", or both; the API may not have counted yet. */
export function tokenWords(app) {
  const counted = (v) => typeof v === 'number' && Number.isFinite(v);
  if (!counted(app.active_tokens) && !counted(app.expired_tokens)) return t('apps.tokens.unknown');
  const active = Number(app.active_tokens) || 0;
  const expired = Number(app.expired_tokens) || 0;
  const parts = [];
  if (active) parts.push(plural('apps.tokens.active', active));
  if (expired) parts.push(plural('apps.tokens.expired', expired));
  return parts.length ? parts.join(', ') : t('apps.tokens.none');
}

/** The app's icon, or its initial on a coloured square. */
export function appIcon(app, size = 'list') {
  if (typeof app.icon_data === 'string' && app.icon_data.startsWith('data:image/')) {
    return h('img', { class: ['app-icon', size], src: app.icon_data, alt: '' });
  }
  const initial = (app.name || app.client_id || '?').trim().charAt(0).toUpperCase();
  return h('span', { class: ['app-icon', 'placeholder', size], 'aria-hidden': 'true' }, initial);
}

