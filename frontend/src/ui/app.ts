// The page host: resolves the URL to a route, checks the session, mounts the page and tears the previous one
// down (abort signal + cleanups), and sends 401s to the login page with `next` set.
import { ApiError, logout, me, type Me } from "../api/client";
import { h, replaceChildren } from "./dom";
import { createLayout, type Crumb } from "./layout";
import { LOGIN, Router, loginUrl, redirectFor, resolve, type NavigateOptions, type Params } from "./router";
import { errorMessage, isUnauthorized, setUnauthorizedHandler } from "./session";
import { toast } from "./toast";
import { spinner } from "./widgets";

export interface PageContext {
  /** The page's own container. */
  el: HTMLElement;
  params: Params;
  query: URLSearchParams;
  url: URL;
  /** null only on public pages (login). */
  user: Me | null;
  /** Aborted when the user leaves the page: check it after every await before touching the DOM. */
  signal: AbortSignal;
  /** Run when the page is left (stop timers, unmount widgets). */
  onLeave(fn: () => void): void;
  /** Handle query-only changes (filters, pagination, back button) in place instead of re-mounting. */
  onQuery(fn: (query: URLSearchParams, url: URL) => void): void;
  setCrumbs(crumbs: Crumb[]): void;
  navigate(url: string, options?: NavigateOptions): void;
  /** Replace the address bar without re-rendering. */
  setUrl(url: string): void;
  setUser(user: Me | null): void;
}

export type Page = (ctx: PageContext) => void | Promise<void>;

export interface RouteDef {
  pattern: string;
  page: Page;
  /** Reachable without a session. */
  public?: boolean;
  /** Use the full window width (the editor). */
  wide?: boolean;
}

interface Mounted {
  key: string;
  controller: AbortController;
  cleanups: (() => void)[];
  onQuery: ((query: URLSearchParams, url: URL) => void) | null;
}

export function startApp(root: HTMLElement, routes: readonly RouteDef[], notFound: Page): void {
  let user: Me | null = null;
  let current: Mounted | null = null;

  const layout = createLayout(root, async () => {
    try {
      await logout();
    } catch (error) {
      if (!isUnauthorized(error)) toast(errorMessage(error) ?? "Could not log out", "error");
    }
    setUser(null);
    router.navigate(LOGIN);
  });

  const setUser = (next: Me | null) => {
    user = next;
    layout.setUser(next?.username ?? null);
  };

  const router = new Router((url, how) => show(url, how));

  setUnauthorizedHandler(() => {
    setUser(null);
    const here = window.location.pathname + window.location.search;
    if (window.location.pathname !== LOGIN) router.navigate(loginUrl(here), { replace: true });
  });

  // A safety net for errors no page handled: 401 goes to login, anything else becomes a toast.
  window.addEventListener("unhandledrejection", (event) => {
    if (!(event.reason instanceof ApiError)) return;
    event.preventDefault();
    const message = errorMessage(event.reason);
    if (message) toast(message, "error");
  });

  function leave(): void {
    if (!current) return;
    current.controller.abort();
    for (const cleanup of current.cleanups.splice(0)) {
      try {
        cleanup();
      } catch (error) {
        console.error("page cleanup failed", error);
      }
    }
    current = null;
  }

  function show(url: URL, how: "push" | "replace" | "pop"): void {
    const redirect = redirectFor(url.pathname);
    if (redirect) {
      router.navigate(redirect, { replace: true });
      return;
    }
    const match = resolve(routes, url.pathname);
    const key = match ? `${match.route.pattern} ${JSON.stringify(match.params)}` : `404 ${url.pathname}`;
    if (current && current.key === key && current.onQuery) {
      current.onQuery(url.searchParams, url);
      return;
    }
    if (match && !match.route.public && !user) {
      router.navigate(loginUrl(url.pathname + url.search), { replace: true });
      return;
    }
    leave();
    mount(key, match?.route.page ?? notFound, match?.params ?? {}, url, match?.route.wide ?? false);
    if (how !== "replace") {
      window.scrollTo(0, 0);
      layout.main.focus({ preventScroll: true });
    }
  }

  function reload(): void {
    leave();
    show(router.current(), "replace");
  }

  function mount(key: string, page: Page, params: Params, url: URL, wide: boolean): void {
    const mounted: Mounted = { key, controller: new AbortController(), cleanups: [], onQuery: null };
    current = mounted;
    const el = h("div", { class: "page" });
    replaceChildren(layout.main, el);
    layout.setWide(wide);
    layout.setCrumbs([]);
    const ctx: PageContext = {
      el,
      params,
      query: url.searchParams,
      url,
      user,
      signal: mounted.controller.signal,
      onLeave: (fn) => mounted.cleanups.push(fn),
      onQuery: (fn) => (mounted.onQuery = fn),
      setCrumbs: (crumbs) => !mounted.controller.signal.aborted && layout.setCrumbs(crumbs),
      navigate: (target, options) => router.navigate(target, options),
      setUrl: (target) => router.setUrl(target),
      setUser,
    };
    Promise.resolve()
      .then(() => page(ctx))
      .catch((error) => {
        if (mounted.controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 404) {
          mounted.onQuery = null;
          replaceChildren(el);
          return notFound({ ...ctx, query: new URLSearchParams({ reason: "missing" }) });
        }
        const message = errorMessage(error);
        if (message === null) return; // 401: on the way to the login page
        console.error(error);
        replaceChildren(
          el,
          h(
            "div",
            { class: "card card-pad", testid: "page-error" },
            h("h1", null, "Something went wrong"),
            h("p", { class: "alert alert-error", role: "alert" }, message),
            h("button", { type: "button", class: "btn", onclick: reload }, "Retry"),
          ),
        );
      });
  }

  replaceChildren(layout.main, spinner("Starting…"));
  me()
    .then(setUser)
    .catch((error) => {
      if (!isUnauthorized(error)) toast(errorMessage(error) ?? "The server did not answer", "error");
    })
    .finally(() => router.start());
}
