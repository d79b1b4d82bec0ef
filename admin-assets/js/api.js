// The client of the gateway's JSON API under /gateway/api/ (docs/admin-api.md): JSON in and out,
// the session cookie (same origin), the CSRF token from the login or session answer on every
// mutating call, and the registry version: the last `ETag` seen is sent back as `If-Match` on
// every change to settings and apps, so a change based on an out-of-date page answers 409
// instead of being applied. Mutations run one after the other, each with the version the
// previous one answered.

const BASE = '/gateway/api/';

/** An error answer of the API, or a failure to reach it. */
export class ApiError extends Error {
  constructor({ status = 0, code = 'network', message = '', problems = [], retryAfter = null }) {
    super(message || code);
    this.name = 'ApiError';
    /** HTTP status; 0 when the gateway could not be reached. */
    this.status = status;
    /** The API's error code: unauthorized, forbidden, not_found, invalid, conflict, ... */
    this.code = code;
    /** For 400: the lines of the file that would not validate. */
    this.problems = Array.isArray(problems) ? problems.map(String) : [];
    /** For 429: seconds from Retry-After. */
    this.retryAfter = retryAfter;
  }
}

let csrfToken = null;
let version = null;
let queue = Promise.resolve();
const unauthorizedListeners = new Set();

/** Calls `fn` when a call of a signed-in page answers 401: the session ended. */
export function onUnauthorized(fn) {
  unauthorizedListeners.add(fn);
}

/** The registry version (ETag) the page last saw, or null. */
export function currentVersion() {
  return version;
}

const CODES_BY_STATUS = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  429: 'too_many_requests',
  503: 'unavailable',
};

function versioned(path) {
  return path === 'settings' || path === 'apps' || path.startsWith('apps/');
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const mutating = method !== 'GET' && method !== 'HEAD';
  if (mutating && path !== 'login' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (mutating && versioned(path) && version) headers['If-Match'] = version;

  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError({ status: 0, code: 'network', message: String(e?.message || e) });
  }
  const etag = response.headers.get('ETag');
  if (etag && response.ok) version = etag;

  let data = null;
  const type = response.headers.get('Content-Type') || '';
  if (response.status !== 204 && type.includes('json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  } else if (response.status !== 204) {
    await response.text().catch(() => '');
  }
  if (response.ok) return data ?? {};

  const retry = Number.parseInt(response.headers.get('Retry-After') || '', 10);
  const error = new ApiError({
    status: response.status,
    code: data?.error || CODES_BY_STATUS[response.status] || 'http',
    message: typeof data?.message === 'string' ? data.message : '',
    problems: data?.problems,
    retryAfter: Number.isFinite(retry) ? retry : null,
  });
  if (response.status === 401) {
    // A session that ended under the page (expired, or signed out elsewhere).
    const hadSession = csrfToken !== null && !['login', 'session', 'logout'].includes(path);
    csrfToken = null;
    if (hadSession) for (const fn of unauthorizedListeners) fn(error);
  }
  throw error;
}

/**
 * One API call. GETs run at once; mutations wait for the ones before them, so each carries the
 * version the previous one produced.
 */
export function request(method, path, body) {
  if (method === 'GET') return send(method, path, body);
  const run = queue.then(() => send(method, path, body));
  queue = run.catch(() => {});
  return run;
}

export const get = (path) => request('GET', path);
export const post = (path, body = {}) => request('POST', path, body);
export const put = (path, body) => request('PUT', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** `encodeURIComponent` for a path segment such as a client id. */
export const seg = (s) => encodeURIComponent(s);

function remember(answer) {
  if (typeof answer?.csrf_token === 'string') csrfToken = answer.csrf_token;
  return answer;
}

/** The live session ({csrf_token, user}) or null when there is none (401). */
export async function session() {
  try {
    return remember(await get('session'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** Signs in; answers {csrf_token, user}. */
export async function login(username, password) {
  return remember(await request('POST', 'login', { username, password }));
}

/** Ends the session (an already ended one is fine). */
export async function logout() {
  try {
    await post('logout');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) throw e;
  } finally {
    csrfToken = null;
    version = null;
  }
}
