// The admin API client: JSON in and out, the bearer token on every request, and every
// error as an ApiError carrying the server's code and message.

/** An error answer of the admin API (or a network failure: status 0). */
export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.parameter = extra.parameter ?? null;
  }

  /** What the app shows: the server's message, and what kind of refusal it is. */
  describe() {
    if (this.status === 0) return `The server cannot be reached: ${this.message}`;
    if (this.status === 403) return `Not allowed: ${this.message}`;
    if (this.status === 404 && this.code === "not_found" && /no route/.test(this.message)) {
      return `This server does not offer this yet: ${this.message} (HTTP 404).`;
    }
    return `${this.message} (HTTP ${this.status}${this.code ? `, ${this.code}` : ""})`;
  }
}

const STORAGE_KEY = "interact-admin";

/** The signed-in admin, kept in sessionStorage (this tab only, gone with it). */
export const session = {
  load() {
    try {
      const v = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
      return v && typeof v.token === "string" ? v : null;
    } catch (_) {
      return null;
    }
  },
  save(value) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

let onUnauthorized = () => {};

/** Called when a request is answered 401 (signed out, or the token expired). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  const e = body && typeof body === "object" ? body.error : null;
  if (e && typeof e === "object") {
    return new ApiError(response.status, String(e.code ?? ""), String(e.message ?? response.statusText), {
      parameter: e.parameter,
    });
  }
  return new ApiError(response.status, "", response.statusText || `HTTP ${response.status}`);
}

/**
 * One request. `path` starts with `/admin/v1/`; `query` is an object of parameters
 * (empty ones left out); `body` is sent as JSON; `as` is `json` (default), `text` or
 * `blob`. 204 gives `null`.
 */
export async function request(method, path, { body, query, as = "json", token, auth = true } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    }
    const qs = q.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Accept: as === "json" ? "application/json" : "*/*" };
  const bearer = token ?? session.load()?.token;
  if (auth && bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new ApiError(0, "network", String(e?.message ?? e));
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && auth && token === undefined) onUnauthorized(error);
    throw error;
  }
  if (response.status === 204) return null;
  if (as === "text") return response.text();
  if (as === "blob") return response.blob();
  return response.json();
}

export const get = (path, query, opts) => request("GET", path, { query, ...opts });
export const put = (path, body) => request("PUT", path, { body });
export const post = (path, body) => request("POST", path, { body });
export const del = (path) => request("DELETE", path);

/** `encodeURIComponent` for a path segment. */
export const seg = (value) => encodeURIComponent(String(value));

/** What to show for any error a request or a page threw. */
export function describe(error) {
  return error instanceof ApiError ? error.describe() : String(error?.message ?? error);
}
