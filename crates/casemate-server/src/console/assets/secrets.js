// The workspace's key vault: secrets by name and attributes; a value only on click, one at a time.

import { get, put, path } from "./api.js";
import { h, show, table, form, input, when, replace, actionButton, errorBox } from "./dom.js";
import { workspaceHeader, workspacePath } from "./resources.js";

export async function secretsPage(rg, ws) {
  const workspace = await get(workspacePath(rg, ws));
  const vault = workspace.key_vault;
  const list = h("section", { id: "secrets" });
  const draw = async () => {
    let secrets;
    try {
      secrets = await get(`${vault}/secrets`);
    } catch (error) {
      replace(list, errorBox(error));
      return;
    }
    replace(list, table(
      [
        ["Name", (s) => s.name],
        ["Enabled", (s) => (s.attributes.enabled ? "yes" : "no")],
        ["Content type", (s) => s.content_type || ""],
        ["Expires", (s) => when(s.attributes.expires)],
        ["Updated", (s) => when(s.attributes.updated)],
        ["Value", (s) => hiddenValue(vault, s.name)],
      ],
      secrets,
      "No secrets in this vault.",
    ));
  };
  show(
    workspaceHeader(rg, ws, "secrets", `Secrets in ${vault}`),
    h("p", { class: "muted" }, "Values never appear in this list. Revealing one is checked against ",
      "your role and recorded in the activity log."),
    list,
    h("h2", {}, "Set a secret"),
    form(
      "inline",
      [
        input("Name", "name", { required: true, id: "secret-name" }),
        input("Value", "value", { required: true, type: "password", autocomplete: "off", id: "secret-value" }),
      ],
      "Save",
      async ({ name, value }, element) => {
        await put(`${vault}${path("secrets", name)}`, { value });
        element.reset();
        await draw();
      },
    ),
  );
  await draw();
}

function hiddenValue(vault, name) {
  const cell = h("span", { "data-secret": name });
  const conceal = () => replace(cell, actionButton("Reveal", async () => {
    const secret = await get(`${vault}${path("secrets", name)}`);
    replace(cell, h("code", { class: "revealed" }, secret.value), " ", actionButton("Hide", async () => conceal()));
  }));
  conceal();
  return cell;
}
