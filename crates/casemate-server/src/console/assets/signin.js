// Sign-in: through the OpenID provider when the server has one, and with a password (plus the
// TOTP code for users who have a second factor) unless the server has turned passwords off.

import { get, signIn } from "./api.js";
import { h, form, input, replace, errorBox } from "./dom.js";

function passwordForm() {
  return form(
    "stack",
    [
      input("User name", "username", { required: true, autocomplete: "username", id: "username" }),
      input("Password", "password", {
        type: "password",
        required: true,
        autocomplete: "current-password",
        id: "password",
      }),
      input("TOTP code (if you have a second factor)", "totp", {
        inputmode: "numeric",
        autocomplete: "one-time-code",
        id: "totp",
      }),
    ],
    "Sign in",
    // A user who must still enrol a second factor gets a session that may only do that; the
    // pages then show the gate's refusal, which says how.
    (values) => signIn(values.username, values.password, values.totp),
  );
}

export function signInPage() {
  const choices = h("div", { class: "stack" });
  get("/console/sign-in-options").then(
    (options) => {
      const offered = [];
      if (options.sso) {
        // A plain navigation: the server sends the browser on to the provider.
        offered.push(h("a", { class: "button", href: "/console/sso/start", id: "sso" }, "Sign in with single sign-on"));
      }
      if (options.sso && options.password) offered.push(h("p", { class: "muted" }, "or with a password:"));
      if (options.password) offered.push(passwordForm());
      replace(choices, ...offered);
    },
    (error) => replace(choices, errorBox(error)),
  );
  return h("section", { class: "signin" }, h("h1", {}, "Sign in to casemate"), choices);
}
