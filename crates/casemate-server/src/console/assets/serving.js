// Models and their versions; web services, their keys (shown only on click) and scoring log.

import { get, post, query } from "./api.js";
import { h, show, table, properties, link, when, replace, actionButton } from "./dom.js";
import { workspaceHeader, workspaceHref, workspacePath } from "./resources.js";

const mlflow = (rg, ws, call, parameters) =>
  `/mlflow${workspacePath(rg, ws)}/api/2.0/mlflow/${call}${query(parameters)}`;
const millis = (value) => (value ? new Date(Number(value)).toISOString() : "");

export async function modelsPage(rg, ws) {
  const found = await get(mlflow(rg, ws, "registered-models/search", { max_results: 200 }));
  const models = found.registered_models || [];
  const versions = await Promise.all(models.map((m) =>
    get(mlflow(rg, ws, "model-versions/search", { filter: `name='${m.name.replaceAll("'", "\\'")}'` }))));
  show(
    workspaceHeader(rg, ws, "models", "Models"),
    models.length === 0
      ? h("p", { class: "muted" }, "No registered models: register one with `mlflow.register_model`.")
      : models.map((model, i) => h(
        "section",
        { "data-model": model.name },
        h("h2", {}, model.name),
        model.description ? h("p", {}, model.description) : "",
        table(
          [
            ["Version", (v) => v.version],
            ["Status", (v) => v.status],
            ["Aliases", (v) => (v.aliases || []).join(", ")],
            ["Run", (v) => (v.run_id ? link(`${workspaceHref(rg, ws, "runs")}/${v.run_id}`, v.run_id) : "")],
            ["Created", (v) => when(millis(v.creation_timestamp))],
            ["By", (v) => v.user_id],
          ],
          versions[i].model_versions || [],
          "No versions.",
        ),
      )),
  );
}

export async function servicesPage(rg, ws) {
  const services = await get(`${workspacePath(rg, ws)}/services`);
  show(
    workspaceHeader(rg, ws, "services", "Web services"),
    table(
      [
        ["Name", (s) => link(`${workspaceHref(rg, ws, "services")}/${encodeURIComponent(s.name)}`, s.name)],
        ["State", (s) => s.state],
        ["Authentication", (s) => s.auth_mode],
        ["Models", (s) => s.models.map((m) => `${m.name}:${m.version}`).join(", ")],
        ["Scoring URI", (s) => s.scoring_uri],
      ],
      services,
      "No web services: deploy one with `casemate service create`.",
    ),
  );
}

export async function servicePage(rg, ws, name) {
  const base = `${workspacePath(rg, ws)}/services/${encodeURIComponent(name)}`;
  const [service, log] = await Promise.all([get(base), get(`${base}/logs`)]);
  const credentials = h("div", { id: "service-credentials" });
  show(
    workspaceHeader(rg, ws, "services", `Web service ${service.name}`),
    properties([
      ["State", service.state],
      ["Reason", service.state_reason],
      ["Scoring URI", service.scoring_uri],
      ["Authentication", service.auth_mode],
      ["Models", service.models.map((m) => `${m.name}:${m.version}`).join(", ")],
      ["Compute", `${service.compute} (${service.compute_type})`],
      ["Restarts", service.restarts],
      ["Updated", when(service.updated_at)],
    ]),
    h("h2", {}, service.auth_mode === "token" ? "Token" : "Keys"),
    credentials,
    h("h2", {}, "Scoring log (last 24 hours)"),
    table(
      [
        ["Time", (e) => when(e.time)],
        ["Status", (e) => e.status],
        ["Caller", (e) => `${e.client_address} ${e.user_agent}`],
        ["Credential", (e) => e.credential],
        ["Model µs", (e) => e.model_us],
        ["Overhead µs", (e) => e.overhead_us],
        ["Request", (e) => e.request_id],
      ],
      [...log.entries].reverse(),
      "No scoring requests.",
    ),
  );
  hiddenCredentials(credentials, base, service.auth_mode);
}

// Keys are fetched only when asked for: the request is checked and recorded like any other.
function hiddenCredentials(section, base, mode) {
  replace(section, actionButton(mode === "token" ? "Get a token" : "Show keys", async () => {
    if (mode === "token") {
      const token = await post(`${base}/token`);
      replace(section, properties([["Access token", h("code", { class: "revealed" }, token.access_token)],
        ["Expires", when(token.expires_on)]]), hideButton(section, base, mode));
    } else {
      const keys = await post(`${base}/listkeys`);
      replace(section, properties([["Primary key", h("code", { class: "revealed" }, keys.primary_key)],
        ["Secondary key", h("code", { class: "revealed" }, keys.secondary_key)]]), hideButton(section, base, mode));
    }
  }));
}

function hideButton(section, base, mode) {
  return actionButton("Hide", async () => hiddenCredentials(section, base, mode));
}
