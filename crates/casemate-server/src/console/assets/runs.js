// Experiments and runs: status, the log as it grows, metric charts, params, tags, outputs, cancel.

import { get, post, query } from "./api.js";
import { h, show, table, properties, link, when, replace, errorBox, actionButton } from "./dom.js";
import { workspaceHeader, workspaceHref, workspacePath } from "./resources.js";
import { lineChart } from "./chart.js";

const FINAL = ["Completed", "Failed", "Canceled"];
const POLL_MS = 1000;

const runHref = (rg, ws, run) => `${workspaceHref(rg, ws, "runs")}/${run}`;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function status(text) {
  return h("span", { class: `status ${text}`, "data-status": text }, text);
}

export async function runsPage(rg, ws) {
  const base = workspacePath(rg, ws);
  const [experiments, runs] = await Promise.all([get(`${base}/experiments`), get(`${base}/runs`)]);
  show(
    workspaceHeader(rg, ws, "runs", "Experiments and runs"),
    h("h2", {}, "Experiments"),
    table([["Name", (e) => e.name], ["Created", (e) => when(e.created_at)]], experiments),
    h("h2", {}, "Runs"),
    table(
      [
        ["Run", (r) => link(runHref(rg, ws, r.id), r.id)],
        ["Experiment", (r) => r.experiment],
        ["Status", (r) => status(r.status)],
        ["Compute", (r) => r.compute],
        ["Submitted", (r) => `${when(r.submitted_at)} by ${r.submitted_by}`],
      ],
      runs,
      "No runs yet: submit one with `casemate run submit`.",
    ),
  );
}

export async function runPage(rg, ws, id, alive) {
  const base = `${workspacePath(rg, ws)}/runs/${encodeURIComponent(id)}`;
  const run = await get(base);
  const summary = h("section");
  const log = h("pre", { class: "log", id: "run-log" });
  const charts = h("div", { class: "charts", id: "run-metrics" });
  const params = h("section");
  const outputs = h("section");
  show(workspaceHeader(rg, ws, "runs", `Run ${id}`), summary, h("h2", {}, "Log"), log,
    h("h2", {}, "Metrics"), charts, params, outputs);
  drawSummary(summary, run, base, rg, ws);
  await Promise.all([follow(base, run, summary, log, charts, rg, ws, alive), drawParams(params, rg, ws, id),
    drawOutputs(outputs, rg, ws, id)]);
}

function drawSummary(section, run, base, rg, ws) {
  replace(
    section,
    properties([
      ["Status", status(run.status)],
      ["Reason", run.reason],
      ["Exit code", run.exit_code],
      ["Experiment", run.experiment],
      ["Command", run.command],
      ["Compute", run.compute],
      ["Image", run.image_digest ? `${run.image} (${run.image_digest})` : run.image],
      ["Submitted", `${when(run.submitted_at)} by ${run.submitted_by}`],
      ["Started", when(run.started_at)],
      ["Ended", when(run.ended_at)],
    ]),
    h("h2", {}, "Tags"),
    table([["Tag", ([k]) => k], ["Value", ([, v]) => v]], Object.entries(run.tags || {}), "No tags."),
    FINAL.includes(run.status)
      ? ""
      : actionButton("Cancel run", async () => {
        drawSummary(section, await post(`${base}/cancel`), base, rg, ws);
      }, "danger"),
  );
}

// Appends the log's new chunks and redraws the charts until the run ends or the page is left.
async function follow(base, run, summary, log, charts, rg, ws, alive) {
  let after = 0;
  let lastStatus = run.status;
  for (;;) {
    const [page, metrics] = await Promise.all([
      get(`${base}/logs${query({ after })}`),
      get(`${base}/metrics`),
    ]);
    if (!alive()) return;
    for (const chunk of page.chunks) {
      log.append(h("span", { class: chunk.stream }, chunk.text));
    }
    after = page.next;
    drawCharts(charts, metrics);
    if (page.status !== lastStatus) {
      lastStatus = page.status;
      drawSummary(summary, await get(base), base, rg, ws);
    }
    if (page.complete) return;
    await pause(POLL_MS);
    if (!alive()) return;
  }
}

function drawCharts(charts, metrics) {
  const byName = new Map();
  for (const point of metrics) {
    if (!byName.has(point.name)) byName.set(point.name, []);
    byName.get(point.name).push(point);
  }
  if (byName.size === 0) {
    replace(charts, h("p", { class: "muted" }, "No metrics logged."));
    return;
  }
  replace(charts, [...byName.entries()].sort().map(([name, points]) => lineChart(name, points)));
}

// Params live in the run's MLflow record, which a run logging through MLflow fills.
async function drawParams(section, rg, ws, id) {
  try {
    const found = await get(`/mlflow${workspacePath(rg, ws)}/api/2.0/mlflow/runs/get${query({ run_id: id })}`);
    const rows = found.run?.data?.params || [];
    replace(section, h("h2", {}, "Params"),
      table([["Param", (p) => p.key], ["Value", (p) => p.value]], rows, "No params logged."));
  } catch (error) {
    replace(section, h("h2", {}, "Params"), error.status === 404
      ? h("p", { class: "muted" }, "No params logged.")
      : errorBox(error));
  }
}

async function drawOutputs(section, rg, ws, id) {
  const base = workspacePath(rg, ws);
  const prefix = `runs/${id}/`;
  const artifacts = (await get(`${base}/artifacts`)).filter((a) => a.path.startsWith(prefix));
  replace(
    section,
    h("h2", {}, "Outputs"),
    table(
      [
        ["File", (a) => h("a", { href: `${base}/artifacts/${a.path.split("/").map(encodeURIComponent).join("/")}`, download: "" },
          a.path.slice(prefix.length))],
        ["Size", (a) => `${a.size} bytes`],
      ],
      artifacts,
      "No outputs.",
    ),
  );
}
