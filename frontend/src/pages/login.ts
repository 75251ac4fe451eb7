import { login } from "../api/client";
import type { PageContext } from "../ui/app";
import { field, h } from "../ui/dom";
import { safeNext } from "../ui/router";
import { errorMessage } from "../ui/session";
import { errorBox } from "../ui/widgets";

export function loginPage(ctx: PageContext): void {
  const next = safeNext(ctx.query.get("next"));
  if (ctx.user) {
    ctx.navigate(next, { replace: true });
    return;
  }
  ctx.setCrumbs([{ label: "Log in" }]);

  const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true, testid: "login-username" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, testid: "login-password" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", testid: "login-submit" }, "Log in");
  const error = errorBox("login-error");

  const form = h(
    "form",
    { class: "login-card card", novalidate: true, "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    ctx.query.get("next") ? h("p", { class: "muted" }, "Log in to continue where you were.") : null,
    error.el,
    field("Username", username).wrap,
    field("Password", password).wrap,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      error.show("Enter your username and password.");
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Logging in…";
    error.show(null);
    try {
      const user = await login(username.value.trim(), password.value);
      if (ctx.signal.aborted) return;
      ctx.setUser(user);
      ctx.navigate(next, { replace: true });
    } catch (err) {
      if (ctx.signal.aborted) return;
      error.show(errorMessage(err));
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Log in";
    }
  });

  ctx.el.append(h("div", { class: "login-wrap" }, form));
  username.focus();
}
