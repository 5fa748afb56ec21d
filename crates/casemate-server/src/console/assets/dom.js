// Building the page from data without ever parsing it as HTML: every value becomes a text node
// or an attribute, so nothing a user stored can run as script.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces the main area's content.
export function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, nodes);
}

export function replace(element, ...nodes) {
  element.replaceChildren();
  append(element, nodes);
  return element;
}

// columns: [[title, row => cell]]
export function table(columns, rows, empty = "None yet.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

// entries: [[label, value]]; absent values are left out.
export function properties(entries) {
  return h(
    "dl",
    { class: "props" },
    entries
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, describe(error));
}

export function describe(error) {
  if (error && error.status) {
    const refused = error.status === 403 ? "Refused: " : "";
    return `${refused}${error.message} (${error.status})`;
  }
  return String(error && error.message ? error.message : error);
}

export function when(text) {
  if (!text) return "";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

export function link(href, text) {
  return h("a", { href }, text);
}

// A form whose submit handler gets the named values; its errors appear inside it.
export function form(className, fields, submitLabel, onSubmit) {
  const problem = h("div");
  const element = h(
    "form",
    { class: className },
    fields,
    h("button", { type: "submit" }, submitLabel),
    problem,
  );
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    const values = Object.fromEntries(new FormData(element).entries());
    try {
      await onSubmit(values, element);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  return element;
}

export function input(label, name, attributes = {}) {
  return h("label", {}, label, h("input", { name, ...attributes }));
}

export function select(label, name, options) {
  return h("label", {}, label, h("select", { name }, options.map((o) => h("option", { value: o }, o))));
}

// A button that runs `action`, showing what it failed with next to itself.
export function actionButton(label, action, className = "quiet") {
  const problem = h("span");
  const button = h("button", { type: "button", class: className }, label);
  button.addEventListener("click", async () => {
    replace(problem);
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      replace(problem, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("span", {}, button, problem);
}
