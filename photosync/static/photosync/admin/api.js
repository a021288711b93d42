/* The versioned JSON API (/api/v1/), for each way in (cfg.auth):
   - "shopify": no cookies; every request carries `Authorization: Bearer <App Bridge ID token>`,
     and a 401 with X-Shopify-Retry-Invalid-Session-Request is retried once with a fresh token;
   - "embed": the WooCommerce plugin's iframe, where the browser sends no cookie of ours;
     every request carries `Authorization: PhotoSync <page token>`;
   - "session": operators (Django login); the CSRF token goes with every change. */
import { cfg, state } from "./state.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.text(status, body));
    this.status = status;
    this.body = body || {};
  }

  static text(status, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      const first = Object.entries(body)[0];
      if (first) return `${first[0]}: ${[].concat(first[1]).join(" ")}`;
    }
    return status === 404 ? "Not found." : `The server answered ${status}.`;
  }
}

async function authHeaders() {
  if (cfg.auth === "embed") return { Authorization: `PhotoSync ${cfg.token}` };
  if (cfg.auth !== "shopify") return {};
  if (!window.shopify || !window.shopify.idToken) {
    throw new ApiError(401, { detail: "Open PhotoSync from your Shopify admin." });
  }
  return { Authorization: `Bearer ${await window.shopify.idToken()}` };
}

/* `api(path, { method, body })`: the answer's JSON; an ApiError when the answer is not 2xx.
   `path` is relative to the API root, or a full URL. */
export async function api(path, { method = "GET", body } = {}, retried = false) {
  const url = /^https?:/.test(path) ? path : cfg.api + path;
  const headers = { Accept: "application/json", ...(await authHeaders()) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const cookieless = cfg.auth === "shopify" || cfg.auth === "embed";
  if (!cookieless && method !== "GET") headers["X-CSRFToken"] = cfg.csrf;
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: cookieless ? "omit" : "same-origin",
  });
  if (response.status === 401 && !retried
      && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
    return api(path, { method, body }, true);  // a stale ID token: once more, fresh
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/* Live updates (polling with ETags, see photosync/views/live.py): `watch(path)` is a
   function that answers the JSON when it changed since its last call, and null when the
   server said 304 (nothing changed; the server did not build the answer). */
export function watch(path) {
  let etag = null;
  return async () => {
    const url = /^https?:/.test(path) ? path : cfg.api + path;
    const headers = { Accept: "application/json", ...(await authHeaders()) };
    if (etag) headers["If-None-Match"] = etag;
    const response = await fetch(url, {
      headers, cache: "no-store",
      credentials: cfg.auth === "shopify" || cfg.auth === "embed" ? "omit" : "same-origin",
    });
    if (response.status === 304) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    etag = response.headers.get("ETag");
    return data;
  };
}

/* A query string with the picked store, if any (operators with several stores). */
export const withStore = (params) => {
  const query = new URLSearchParams(params || {});
  if (state.storeId) query.set("store", state.storeId);
  return query.toString();
};
