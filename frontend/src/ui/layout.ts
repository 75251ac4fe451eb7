// The frame around every page: a top bar (product name, breadcrumbs, the user and Log out) and the main area.
import { h, replaceChildren } from "./dom";
import { HOME } from "./router";

export interface Crumb {
  label: string;
  href?: string;
}

export interface Layout {
  /** The element pages render into (emptied for each page). */
  main: HTMLElement;
  setCrumbs(crumbs: Crumb[]): void;
  setUser(username: string | null): void;
  /** Full-width pages (the editor) drop the centred column. */
  setWide(wide: boolean): void;
}

export function createLayout(root: HTMLElement, onLogout: () => void): Layout {
  const crumbs = h("ol", { class: "crumbs" });
  const userName = h("span", { class: "user-name", testid: "current-user" });
  const logout = h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "logout", onclick: onLogout }, "Log out");
  const user = h("div", { class: "user", hidden: true }, h("span", { class: "user-icon", "aria-hidden": "true" }), userName, logout);
  const bar = h(
    "header",
    { class: "topbar" },
    h("a", { class: "brand", href: HOME, testid: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Annotator"),
    h("nav", { class: "crumbs-nav", "aria-label": "Breadcrumb" }, crumbs),
    user,
  );
  const main = h("main", { id: "main", class: "main", tabindex: -1 });
  const skip = h("a", { class: "skip-link", href: "#main" }, "Skip to content");
  skip.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  replaceChildren(root, skip, bar, main);

  return {
    main,
    setCrumbs(list) {
      replaceChildren(
        crumbs,
        list.map((crumb, index) => {
          const last = index === list.length - 1;
          return h(
            "li",
            null,
            crumb.href && !last
              ? h("a", { href: crumb.href }, crumb.label)
              : h("span", { "aria-current": last ? "page" : undefined }, crumb.label),
          );
        }),
      );
      document.title = list.length ? `${list[list.length - 1].label} · Annotator` : "Annotator";
    },
    setUser(username) {
      userName.textContent = username ?? "";
      user.hidden = !username;
    },
    setWide(wide) {
      main.classList.toggle("main-wide", wide);
    },
  };
}
