// The admin web app: sign-in, the role's navigation and hash routing (`#/templates`,
// `#/workflows/support-im`, ...). Each page is a module in pages/ that renders into
// <main> from the admin API. Plain ES modules, no build step, no framework.

import { ApiError, request, session, setUnauthorizedHandler } from "./api.js";
import { h, replace } from "./dom.js";
import * as services from "./pages/services.js";
import * as users from "./pages/users.js";
import * as templates from "./pages/templates.js";
import * as embedCodes from "./pages/embed-codes.js";
import * as workflows from "./pages/workflows.js";
import * as hours from "./pages/hours.js";
import * as reports from "./pages/reports.js";
import * as audit from "./pages/audit.js";
import * as webhooks from "./pages/webhooks.js";

const PAGES = {
  services,
  users,
  templates,
  "embed-codes": embedCodes,
  workflows,
  "opening-hours": hours,
  reports,
  audit,
  webhooks,
};

/** What a role is called on the page. */
const ROLE_NAMES = { tenant_admin: "Tenant Admin", service_owner: "Service Owner" };

const $ = (id) => document.getElementById(id);
const main = $("main");
const statusBox = $("status");

/** Announces `message` in the live region (and shows it); `kind` is `ok` or `error`. */
export function announce(message, kind = "ok") {
  statusBox.dataset.kind = kind;
  statusBox.textContent = "";
  // A new text node, so screen readers announce a repeat of the same words too.
  window.setTimeout(() => {
    statusBox.textContent = message;
  }, 30);
  window.clearTimeout(announce.timer);
  announce.timer = window.setTimeout(() => {
    statusBox.textContent = "";
  }, 8000);
}

/** Asks for a confirmation in a modal dialog; resolves to true if confirmed. */
export function confirmAction(text, confirmLabel) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

/** An error box for a page that could not load or save. */
export function errorBox(error) {
  const text = error instanceof ApiError ? error.describe() : String(error?.message ?? error);
  const box = h("div", { class: ["alert", error?.status === 403 ? "alert-forbidden" : "alert-error"], role: "alert" }, text);
  return box;
}

let me = null;
let generation = 0;

function isTenantAdmin() {
  return me?.role === "tenant_admin";
}

/** The context a page renders with. */
function context(gen) {
  return {
    me,
    isTenantAdmin: isTenantAdmin(),
    main,
    announce,
    confirm: confirmAction,
    errorBox,
    /** Whether the page is still the one shown (a slow answer for a page left is dropped). */
    current: () => gen === generation,
    navigate: (hash) => {
      if (location.hash === hash) route(true);
      else location.hash = hash;
    },
  };
}

function showSignIn(message) {
  me = null;
  $("app-view").hidden = true;
  $("signin-view").hidden = false;
  $("signin-error").textContent = message ?? "";
  $("signin-submit").disabled = false;
  document.title = "Sign in · Interact administration";
  $("signin-username").focus();
}

function showApp() {
  $("signin-view").hidden = true;
  $("app-view").hidden = false;
  $("me-name").textContent = me.user?.display_name || me.user?.id || "Operator";
  $("me-role").textContent = ROLE_NAMES[me.role] ?? String(me.role ?? "");
  for (const item of document.querySelectorAll("#nav li")) {
    item.hidden = item.dataset.role === "tenant_admin" && !isTenantAdmin();
  }
  route();
}

/** Shows the page the hash names; `moveFocus` after a navigation within the app. */
async function route(moveFocus = false) {
  if (!me) return;
  generation += 1;
  const gen = generation;
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [name, ...rest] = hash.split("/").map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (_) {
      return p;
    }
  });
  const pageName = PAGES[name] ? name : isTenantAdmin() ? "templates" : "services";
  if (!PAGES[name]) {
    history.replaceState(null, "", `#/${pageName}`);
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.parentElement.dataset.page === pageName) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const page = PAGES[pageName];
  delete main.dataset.rendered;
  if (statusBox.dataset.kind !== "error") statusBox.textContent = "";
  replace(main, h("p", { class: "loading" }, "Loading…"));
  main.setAttribute("aria-busy", "true");
  try {
    await page.render(context(gen), rest.filter((p) => p !== ""));
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401) return;
    replace(main, h("h1", {}, page.title ?? "Error"), errorBox(e));
    console.info("page failed", e);
  } finally {
    if (gen === generation) main.removeAttribute("aria-busy");
  }
  if (gen !== generation) return;
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : "Interact"} · Interact administration`;
  // After a navigation, focus moves to the new page's heading, as it would on a page
  // load, so keyboard and screen-reader users start there.
  if (moveFocus && heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
  // Which route the page shows (tests wait for it).
  main.dataset.rendered = location.hash;
}

/** Signs in with what `/sign-in` or `/me` answered (plus the token). */
function signedIn(answer, token) {
  me = {
    token,
    expires_at: answer.expires_at ?? null,
    user: answer.user ?? null,
    role: answer.role ?? "tenant_admin",
    services: Array.isArray(answer.services) ? answer.services : [],
  };
  session.save(me);
  showApp();
}

async function signInWithPassword(event) {
  event.preventDefault();
  const username = $("signin-username").value.trim();
  const password = $("signin-password").value;
  const error = $("signin-error");
  if (!username || !password) {
    error.textContent = "Enter your username and password.";
    return;
  }
  error.textContent = "";
  $("signin-submit").disabled = true;
  try {
    const answer = await request("POST", "/admin/v1/sign-in", { body: { username, password }, auth: false });
    $("signin-password").value = "";
    signedIn(answer, answer.token);
  } catch (e) {
    $("signin-submit").disabled = false;
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 401) error.textContent = "Wrong username or password.";
    else if (e.status === 403) error.textContent = `This account has no administration role: ${e.message}`;
    else if (e.status === 429) error.textContent = "Too many sign-in attempts. Wait a minute and try again.";
    else error.textContent = e.describe();
  }
}

async function signInWithToken(event) {
  event.preventDefault();
  const token = $("signin-token").value.trim();
  const error = $("token-error");
  if (!token) {
    error.textContent = "Enter the admin token.";
    return;
  }
  error.textContent = "";
  try {
    let answer;
    try {
      answer = await request("GET", "/admin/v1/me", { token });
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 401 || e.status === 403) throw e;
      // A server without /me: the operator's token is checked on a list it may read.
      await request("GET", "/admin/v1/templates", { token });
      answer = { user: { id: "operator", display_name: "Operator" }, role: "tenant_admin", services: [] };
    }
    $("signin-token").value = "";
    signedIn(answer, token);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    error.textContent = e.status === 401 ? "The server does not accept this token." : e.describe();
  }
}

async function signOut() {
  const token = me?.token;
  session.clear();
  showSignIn("You are signed out.");
  if (token) {
    try {
      await request("POST", "/admin/v1/sign-out", { token });
    } catch (_) {
      // Signed out here anyway; the token expires on its own.
    }
  }
}

async function start() {
  setUnauthorizedHandler(() => {
    session.clear();
    showSignIn("Your session has ended. Please sign in again.");
  });
  $("signin-form").addEventListener("submit", signInWithPassword);
  $("token-form").addEventListener("submit", signInWithToken);
  $("signout").addEventListener("click", signOut);
  $("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  window.addEventListener("hashchange", () => route(true));

  const kept = session.load();
  if (!kept) {
    showSignIn();
    return;
  }
  me = kept;
  try {
    const answer = await request("GET", "/admin/v1/me");
    signedIn(answer, kept.token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // the handler shows the form
    showApp(); // no /me on this server yet: keep what sign-in said
  }
}

start();
