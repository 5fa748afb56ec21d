// Resource groups, workspaces with their associated resources, and role assignments at a scope.

import { get, put, post, del, path, query } from "./api.js";
import {
  h, show, table, properties, form, input, select, link, when, replace, errorBox, actionButton,
} from "./dom.js";

export const groupHref = (rg) => `#/rg/${encodeURIComponent(rg)}`;
export const workspaceHref = (rg, ws, tab = "") =>
  `${groupHref(rg)}/ws/${encodeURIComponent(ws)}${tab ? `/${tab}` : ""}`;
export const workspacePath = (rg, ws) => path("resourceGroups", rg, "workspaces", ws);

const TABS = [
  ["", "Overview"],
  ["runs", "Runs"],
  ["models", "Models"],
  ["services", "Web services"],
  ["secrets", "Secrets"],
  ["access", "Access"],
];

// Breadcrumbs and the workspace's tabs, with `current` marked.
export function workspaceHeader(rg, ws, current, title) {
  return [
    h("div", { class: "crumbs" }, link("#/", "Resources"), " / ", link(groupHref(rg), rg), " / ",
      link(workspaceHref(rg, ws), ws)),
    h("h1", {}, title),
    h("nav", { class: "tabs" }, TABS.map(([tab, label]) =>
      h("a", { href: workspaceHref(rg, ws, tab), class: tab === current ? "current" : "" }, label))),
  ];
}

export async function groupsPage() {
  const groups = await get("/resourceGroups");
  show(
    h("h1", {}, "Resource groups"),
    table(
      [
        ["Name", (g) => link(groupHref(g.name), g.name)],
        ["Created", (g) => when(g.created_at)],
        ["Created by", (g) => g.created_by],
      ],
      groups,
      "No resource groups you can see.",
    ),
    h("h2", {}, "Create a resource group"),
    form("inline", [input("Name", "name", { required: true, id: "new-group" })], "Create",
      async ({ name }) => {
        await put(path("resourceGroups", name));
        location.hash = groupHref(name);
      }),
  );
}

export async function groupPage(rg) {
  const scope = path("resourceGroups", rg);
  const [group, workspaces] = await Promise.all([get(scope), get(`${scope}/workspaces`)]);
  show(
    h("div", { class: "crumbs" }, link("#/", "Resources"), " /"),
    h("h1", {}, `Resource group ${group.name}`),
    h("h2", {}, "Workspaces"),
    table(
      [
        ["Name", (w) => link(workspaceHref(rg, w.name), w.name)],
        ["Description", (w) => w.description],
        ["Created", (w) => when(w.created_at)],
      ],
      workspaces,
      "No workspaces in this group.",
    ),
    h("h2", {}, "Create a workspace"),
    form(
      "inline",
      [
        input("Name", "name", { required: true, id: "new-workspace" }),
        input("Description", "description", { id: "new-workspace-description" }),
      ],
      "Create workspace",
      async ({ name, description }) => {
        await put(`${scope}/workspaces/${encodeURIComponent(name)}`, description ? { description } : {});
        location.hash = workspaceHref(rg, name);
      },
    ),
    await assignments(scope),
  );
}

export async function workspacePage(rg, ws) {
  const workspace = await get(workspacePath(rg, ws));
  show(
    workspaceHeader(rg, ws, "", `Workspace ${workspace.name}`),
    properties([
      ["Id", workspace.id],
      ["Description", workspace.description],
      ["Key vault", workspace.key_vault],
      ["Storage", workspace.storage],
      ["Container registry", workspace.container_registry],
      ["Monitoring", workspace.monitoring],
      ["Identity", `${workspace.identity.name} (${workspace.identity.type}, ${workspace.identity.principal_id})`],
      ["User-assigned identity", workspace.primary_user_assigned_identity],
      ["Customer-managed key", workspace.resource_cmk_uri],
      ["High business impact", workspace.hbi_workspace ? "yes" : "no"],
      ["Created", `${when(workspace.created_at)} by ${workspace.created_by}`],
    ]),
  );
}

export async function accessPage(rg, ws) {
  show(workspaceHeader(rg, ws, "access", `Access to ${ws}`), await assignments(workspacePath(rg, ws)));
}

// Who holds what at `scope` (inherited assignments included); add and remove for those allowed.
async function assignments(scope) {
  const section = h("section", { id: "assignments" });
  const refresh = async () => {
    const [rows, roles, check] = await Promise.all([
      get(`/roleAssignments${query({ scope, includeInherited: true })}`),
      get("/roleDefinitions"),
      get(`/permissions/check${query({ scope, action: "roleAssignments/write" })}`),
    ]);
    replace(
      section,
      h("h2", {}, "Role assignments"),
      table(
        [
          ["Principal", (a) => `${a.principal_name} (${a.principal_kind})`],
          ["Role", (a) => a.role],
          ["Scope", (a) => (a.scope === scope ? a.scope : `${a.scope} (inherited)`)],
          ["", (a) => (a.scope === scope && check.allowed
            ? actionButton("Remove", async () => { await del(`/roleAssignments/${a.id}`); await refresh(); }, "danger")
            : "")],
        ],
        rows,
        "No role assignments at this scope.",
      ),
      check.allowed
        ? form(
          "inline",
          [
            input("User, service principal or identity", "assignee", { required: true, id: "assignee" }),
            select("Role", "role", roles.map((r) => r.Name)),
          ],
          "Assign",
          async ({ assignee, role }) => {
            await post(`/roleAssignments${query({ scope })}`, { assignee, role });
            await refresh();
          },
        )
        : h("p", { class: "muted" }, "You may not change role assignments here."),
    );
  };
  try {
    await refresh();
  } catch (error) {
    replace(section, h("h2", {}, "Role assignments"), errorBox(error));
  }
  return section;
}
