// The console's entry: resumes the session the cookies hold, then routes on the URL's fragment.

import { currentSession, onSessionChange, resume, signOut } from "./api.js";
import { h, replace, show, errorBox } from "./dom.js";
import { signInPage } from "./signin.js";
import { groupsPage, groupPage, workspacePage, accessPage } from "./resources.js";
import { runsPage, runPage } from "./runs.js";
import { modelsPage, servicesPage, servicePage } from "./serving.js";
import { secretsPage } from "./secrets.js";
import { activityPage } from "./activity.js";

// [pattern, page]: `:name` segments become the page's arguments, in order.
const ROUTES = [
  ["", groupsPage],
  ["activity", activityPage],
  ["rg/:rg", groupPage],
  ["rg/:rg/ws/:ws", workspacePage],
  ["rg/:rg/ws/:ws/access", accessPage],
  ["rg/:rg/ws/:ws/runs", runsPage],
  ["rg/:rg/ws/:ws/runs/:run", runPage],
  ["rg/:rg/ws/:ws/models", modelsPage],
  ["rg/:rg/ws/:ws/services", servicesPage],
  ["rg/:rg/ws/:ws/services/:name", servicePage],
  ["rg/:rg/ws/:ws/secrets", secretsPage],
];

let shown = 0;

function match(pattern, segments) {
  const parts = pattern === "" ? [] : pattern.split("/");
  if (parts.length !== segments.length) return null;
  const values = [];
  for (let i = 0; i < parts.length; i += 1) {
    if (parts[i].startsWith(":")) values.push(segments[i]);
    else if (parts[i] !== segments[i]) return null;
  }
  return values;
}

async function route() {
  shown += 1;
  const mine = shown;
  // A page that keeps polling (a run's log) stops once another page is shown.
  const alive = () => mine === shown;
  if (!currentSession()) {
    show(signInPage());
    return;
  }
  const fragment = location.hash.replace(/^#\/?/, "");
  const segments = fragment === "" ? [] : fragment.split("/").map(decodeURIComponent);
  for (const [pattern, page] of ROUTES) {
    const values = match(pattern, segments);
    if (values) {
      try {
        await page(...values, alive);
      } catch (error) {
        if (alive()) show(h("h1", {}, "Something went wrong"), errorBox(error));
      }
      return;
    }
  }
  show(h("h1", {}, "Not found"), h("p", {}, "No console page has this address."));
}

function header(session) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!session) {
    replace(nav);
    replace(who);
    return;
  }
  replace(nav, h("a", { href: "#/" }, "Resources"), h("a", { href: "#/activity" }, "Activity log"));
  const button = h("button", { type: "button", class: "quiet", id: "sign-out" }, "Sign out");
  button.addEventListener("click", async () => {
    try {
      await signOut();
    } finally {
      location.hash = "#/";
    }
  });
  const shown = session.display_name && session.display_name !== session.name
    ? `${session.display_name} (${session.name})`
    : session.name;
  replace(who, h("span", { id: "signed-in-as" }, shown), button);
}

let last = null;
onSessionChange((session) => {
  header(session);
  // Signing in or out changes what every page may show; a renewal of the same session does not.
  const who = session ? session.object_id : null;
  if (who !== last) {
    last = who;
    route();
  }
});
window.addEventListener("hashchange", route);

resume().then((session) => {
  if (!session) route();
});
