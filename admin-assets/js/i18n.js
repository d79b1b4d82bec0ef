// The words of the admin and account pages, in English and Italian, from admin-assets/i18n.json
// (the catalog the login and consent pages use too). The language is the first of
// `navigator.languages` that is English or Italian (English otherwise); `<html lang>` follows it.
// Static HTML marks its texts with data-i18n="key" (text), data-i18n-label (aria-label),
// data-i18n-placeholder and data-i18n-title; `applyI18n` fills them in.

// One catalog for every page: the gateway's login and consent pages read the same file.
const TABLES = await fetch(new URL('../i18n.json', import.meta.url), { cache: 'no-cache' }).then(
  (r) => r.json(),
);
const EN = TABLES.en;

/** The first of the browser's languages that is English or Italian; English otherwise. */
function choose() {
  const wanted = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base in TABLES) return base;
  }
  return 'en';
}

export const lang = choose();
const table = TABLES[lang];

/** The text for `key` with `{name}` placeholders filled from `vars`; the key itself if unknown. */
export function t(key, vars = {}) {
  const text = table[key] ?? EN[key];
  if (text === undefined) {
    console.error(`i18n: no text for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** `key.one` for 1, `key.many` otherwise, with {n}. */
export function plural(key, n) {
  return t(`${key}.${n === 1 ? 'one' : 'many'}`, { n });
}

/** Fills every data-i18n* attribute under `root` and sets `<html lang>`. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const attrs = [
    ['i18nLabel', 'aria-label'],
    ['i18nPlaceholder', 'placeholder'],
    ['i18nTitle', 'title'],
    ['i18nAlt', 'alt'],
  ];
  for (const [data, attr] of attrs) {
    const sel = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const el of root.querySelectorAll(sel)) el.setAttribute(attr, t(el.dataset[data]));
  }
}

/** A Unix time as a date and time in the page's language. */
export function formatTime(unix) {
  if (typeof unix !== 'number' || !Number.isFinite(unix)) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(unix * 1000),
  );
}

/** The canonical scope name of a space-separated OAuth scope string. */
export function canonicalScope(scope) {
  const names = new Set(String(scope || '').split(/\s+/).filter(Boolean));
  const read = names.has('rest.all') || names.has('rest.all.read');
  const write = names.has('rest.all') || names.has('rest.all.write');
  if (read && write) return 'rest.all';
  if (read) return 'rest.all.read';
  if (write) return 'rest.all.write';
  return '';
}

/** What a scope lets an app do, in words: "your" data for apps a user authorized. */
export function scopeWords(scope, { bound = false } = {}) {
  const name = canonicalScope(scope);
  if (!name) return String(scope || '');
  return t(`scope.words.${bound ? 'bound.' : ''}${name}`);
}

/** For the check that both tables have the same keys (used by the page tests). */
export const _tables = TABLES;
