// The credentials the API shows once, after an app is created or its secret or key pair is
// renewed: the client ID and secret with copy buttons, or for a signed-JWT service account the
// private key (download as PEM and as JWK through data: links, since the CSP forbids blob:) and
// the ready-to-run assertion example.

import { t } from './i18n.js';
import { $, copyField, downloadLink, focusHeading, h, showView } from './ui.js';

let done = () => {};
let focusAfter = null;

/** Wires the Done button; `onDone(focusKey)` goes back to the list. */
export function setupResult({ onDone }) {
  done = onDone;
  $('result-done').addEventListener('click', () => {
    $('result-body').replaceChildren(); // the secret is gone from the page once left
    done(focusAfter);
  });
}

function pretty(value) {
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}

/** Textarea rows for `text`: its lines, long ones counted as several (about 90 characters each). */
function rowsFor(text, min = 2, max = 14) {
  const lines = String(text)
    .split('\n')
    .reduce((n, line) => n + Math.max(1, Math.ceil(line.length / 90)), 0);
  return Math.min(max, Math.max(min, lines));
}

function slug(s) {
  return String(s || 'app').replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Shows what `answer` (a POST apps or POST apps/{id}/secret answer) holds; `how`: created | regenerated. */
export function showResult(answer, how) {
  const id = answer.client_id || '';
  focusAfter = id ? `edit:${id}` : 'add';
  const parts = [];
  const name = answer.name || id;
  parts.push(h('p', { class: 'result-app' }, h('strong', {}, name)));
  parts.push(copyField(t('result.client_id'), id));

  if (typeof answer.client_secret === 'string') {
    parts.push(copyField(t('result.secret'), answer.client_secret));
  }

  if (typeof answer.private_key_pem === 'string' || answer.private_key_jwk) {
    const file = slug(id);
    const links = [];
    if (typeof answer.private_key_pem === 'string') {
      links.push(downloadLink(t('result.download_pem'), `${file}.pem`, 'application/x-pem-file', answer.private_key_pem));
    }
    if (answer.private_key_jwk) {
      links.push(downloadLink(t('result.download_jwk'), `${file}.jwk.json`, 'application/json', pretty(answer.private_key_jwk)));
    }
    parts.push(h('h3', {}, t('result.private_key')), h('div', { class: 'downloads' }, links));
    if (typeof answer.private_key_pem === 'string') {
      parts.push(copyField(t('result.pem'), answer.private_key_pem, { rows: rowsFor(answer.private_key_pem, 4, 10) }));
    }
    if (answer.private_key_jwk) {
      const jwk = pretty(answer.private_key_jwk);
      parts.push(copyField(t('result.jwk'), jwk, { rows: rowsFor(jwk, 4, 10) }));
    }
  }

  const example = answer.assertion_example;
  if (example && typeof example === 'object') {
    parts.push(h('h3', {}, t('result.example')), h('p', { class: 'help' }, t('result.example.help')));
    if (example.claims !== undefined) {
      const claims = pretty(example.claims);
      parts.push(copyField(t('result.claims'), claims, { rows: rowsFor(claims) }));
    }
    if (typeof example.assertion === 'string') {
      parts.push(copyField(t('result.assertion'), example.assertion, { rows: rowsFor(example.assertion, 3, 8) }));
    }
    if (typeof example.curl === 'string') {
      parts.push(copyField(t('result.curl'), example.curl, { rows: rowsFor(example.curl, 3, 8) }));
    }
  }

  const hasSecret = typeof answer.client_secret === 'string' || answer.private_key_pem || answer.private_key_jwk;
  if (!hasSecret) parts.push(h('p', { class: 'muted' }, t('result.no_secret')));

  $('result-title').textContent = t(how === 'regenerated' ? 'result.regenerated' : 'result.created');
  document.querySelector('[data-view="result"] .warning').hidden = !hasSecret;
  $('result-body').replaceChildren(...parts);
  showView('result');
  window.scrollTo(0, 0);
  focusHeading($('result-title'));
}
