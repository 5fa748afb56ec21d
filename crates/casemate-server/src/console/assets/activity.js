// The activity log, filtered as the API filters it, and the verification of its hash chain.

import { get, post, query } from "./api.js";
import { h, show, table, form, input, select, when, replace, properties, actionButton } from "./dom.js";

export async function activityPage() {
  const results = h("section", { id: "activity" });
  const verification = h("div", { id: "verification" });
  let filters = { scope: "/" };
  const draw = async (page) => {
    const found = await get(`/activityLog${query({ ...filters, page })}`);
    replace(
      results,
      table(
        [
          ["Time", (e) => when(e.time)],
          ["Caller", (e) => e.caller_name],
          ["Operation", (e) => e.operation],
          ["Outcome", (e) => h("span", { class: e.outcome === "Succeeded" ? "ok" : e.outcome === "Started" ? "" : "bad" }, e.outcome)],
          ["Status", (e) => e.status || ""],
          ["Resource", (e) => e.resource_id],
          ["From", (e) => e.client_address],
          ["Detail", (e) => e.detail || ""],
        ],
        found.entries,
        "No records match.",
      ),
      found.next_page ? actionButton("Next page", () => draw(found.next_page)) : "",
    );
  };
  show(
    h("h1", {}, "Activity log"),
    form(
      "inline",
      [
        input("Scope", "scope", { value: "/", required: true }),
        input("Caller", "caller", { id: "filter-caller" }),
        input("Operation", "operation", { id: "filter-operation" }),
        select("Outcome", "outcome", ["", "Started", "Succeeded", "Failed", "Denied"]),
        input("From (RFC 3339)", "from"),
        input("To (RFC 3339)", "to"),
      ],
      "Filter",
      async (values) => {
        filters = values;
        await draw();
      },
    ),
    results,
    h("h2", {}, "Chain verification"),
    actionButton("Verify the chain", async () => {
      const report = await post("/activityLog/verify");
      replace(verification, properties([
        ["Records checked", report.records_checked],
        ["Intact", h("span", { class: report.intact ? "ok" : "bad", id: "chain-intact" }, report.intact ? "yes" : "no")],
        ["First problem", report.first_problem ? `record ${report.first_problem.seq}: ${report.first_problem.problem}` : ""],
      ]));
    }),
    verification,
  );
  await draw();
}
