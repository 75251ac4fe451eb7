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

// The brand mark as the tab icon (the HTML shell declares none, and a data URL saves a 404 for /favicon.ico).
const FAVICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="8" height="8" fill="#2563eb"/>' +
      '<rect x="8" width="8" height="8" fill="#22c3a6"/><rect y="8" width="8" height="8" fill="#e5484d"/>' +
      '<rect x="8" y="8" width="8" height="8" fill="#f59e0b"/></svg>',
  );

export function createLayout(root: HTMLElement, onLogout: () => void): Layout {
  if (!document.querySelector("link[rel~='icon']")) document.head.append(h("link", { rel: "icon", href: FAVICON }));
  const crumbs = h("ol", { class: "crumbs" });
  const userName = h("span", { class: "user-name", testid: "current-user" });
  const logout = h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "logout", onclick: onLogout }, "Log out");
  const initial = h("span", { class: "avatar", "aria-hidden": "true" });
  const user = h("div", { class: "user", hidden: true }, initial, userName, logout);
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
      initial.textContent = (username ?? "").slice(0, 1).toUpperCase();
      user.hidden = !username;
    },
    setWide(wide) {
      main.classList.toggle("main-wide", wide);
    },
  };
}
