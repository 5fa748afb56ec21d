// Every call the console makes goes through here, to the same API any client uses. The session's
// tokens live in HttpOnly cookies this script cannot read; it holds only the CSRF token, in memory.

let session = null;
let renewal = null;
const listeners = [];

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.error ? body.error : body || {};
    super(detail.message || body?.message || `request failed with status ${status}`);
    this.status = status;
    this.code = detail.code || body?.error_code || "";
  }
}

export function currentSession() {
  return session;
}

export function onSessionChange(listener) {
  listeners.push(listener);
}

function setSession(next) {
  session = next;
  clearTimeout(renewal);
  if (next && next.expires_in > 0) {
    // Renew at four fifths of the access token's life, so a request never meets an expired one.
    renewal = setTimeout(() => refresh(), Math.max(5, next.expires_in * 0.8) * 1000);
  }
  for (const listener of listeners) listener(next);
}

async function send(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (!["GET", "HEAD"].includes(method) && session) headers["x-csrf-token"] = session.csrf_token;
  return fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function decode(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function api(method, path, body) {
  let response = await send(method, path, body);
  if (response.status === 401 && session && (await refresh())) {
    response = await send(method, path, body);
  }
  return decode(response);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const put = (path, body) => api("PUT", path, body === undefined ? {} : body);
export const del = (path) => api("DELETE", path);

// Trades the refresh cookie for new tokens; false when there is no session to renew.
export async function refresh() {
  const response = await fetch("/console/session/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: "{}",
  });
  if (!response.ok) {
    setSession(null);
    return false;
  }
  setSession(await response.json());
  return true;
}

// The session the cookies hold, if any: asked for when the page loads.
export async function resume() {
  const response = await fetch("/console/session", { credentials: "same-origin" });
  if (response.ok) {
    setSession(await response.json());
    return session;
  }
  return (await refresh()) ? session : null;
}

export async function signIn(username, password, totp) {
  const body = { username, password };
  if (totp) body.totp = totp;
  const response = await send("POST", "/console/session", body);
  setSession(await decode(response));
  return session;
}

export async function signOut() {
  await api("DELETE", "/console/session");
  setSession(null);
}

// Path segments are user-chosen names: encode each one.
export function path(...segments) {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join("");
}

export function query(parameters) {
  const pairs = Object.entries(parameters).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return pairs.length ? `?${new URLSearchParams(pairs)}` : "";
}
