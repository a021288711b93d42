/* What the page was given (data-* on #app) and what its screens share while it is open.
   Everything the views remember between renders lives here, in one place. */

const data = document.getElementById("app")?.dataset || {};

export const cfg = {
  auth: data.auth || "session",  // "shopify", "embed" (the WooCommerce iframe) or "session"
  api: data.api || "/api/v1/",
  csrf: data.csrf || "",
  token: data.token || "",  // "embed": the WooCommerce iframe's page token
  initial: data.initial || "",
};

export const state = {
  stores: [],
  storeId: null,       // the store picked (operators with several stores)
  drafts: {},          // image id -> {alt, featured} typed but not sent yet
  originals: {},       // source id -> signed link (links are signed per request)
  timer: null,         // the current screen's next poll
  settingsCache: {},   // store id -> settings answer (choices for regenerate)
  keys: null,          // the current screen's shortcuts: key -> function (keys.js)
  queueIds: null,      // the product ids the queue showed last, in its order ("n")
  undo: null,          // the last decision's Undo while its toast shows
  unsaved: null,       // () => true while the screen holds changes not saved yet
};
