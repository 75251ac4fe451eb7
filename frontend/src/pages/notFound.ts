import type { PageContext } from "../ui/app";
import { h } from "../ui/dom";

export function notFoundPage(ctx: PageContext): void {
  const missing = ctx.query.get("reason") === "missing";
  ctx.setCrumbs([{ label: "Not found" }]);
  ctx.el.append(
    h(
      "div",
      { class: "card card-pad not-found", testid: "not-found" },
      h("h1", null, missing ? "Not found" : "Page not found"),
      h(
        "p",
        { class: "muted" },
        missing
          ? "This item does not exist, or you are not a member of its project."
          : "There is no page at this address.",
      ),
      h("a", { class: "btn btn-primary", href: "/app/projects" }, "Go to projects"),
    ),
  );
}
