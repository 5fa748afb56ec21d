// Password sign-in, with the TOTP code for users who have a second factor.

import { signIn } from "./api.js";
import { h, form, input } from "./dom.js";

export function signInPage() {
  return h(
    "section",
    { class: "signin" },
    h("h1", {}, "Sign in to casemate"),
    form(
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
    ),
  );
}
