// Client-side routing with the History API. The matching and query helpers are pure (tested in node); the
// Router class is the only part that touches window.history.

export type Params = Record<string, string>;

/** Patterns look like "/app/projects/:id(int)/settings"; `:name` matches one path segment, `(int)` digits only. */
export function matchPath(pattern: string, path: string): Params | null {
  const want = splitPath(pattern);
  const have = splitPath(path);
  if (want.length !== have.length) return null;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const param = /^:(\w+)(\(int\))?$/.exec(want[i]);
    if (!param) {
      if (want[i] !== have[i]) return null;
      continue;
    }
    let value: string;
    try {
      value = decodeURIComponent(have[i]);
    } catch {
      return null; // a malformed escape is no match, not a crash
    }
    if (param[2] && !/^[1-9]\d{0,15}$/.test(value)) return null;
    params[param[1]] = value;
  }
  return params;
}

function splitPath(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "");
}

export interface RouteMatch<T> {
  route: T;
  params: Params;
}

/** The first route whose pattern matches `path`. */
export function resolve<T extends { pattern: string }>(routes: readonly T[], path: string): RouteMatch<T> | null {
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}

/** A positive integer from a query value, or the fallback. */
export function intParam(value: string | null, fallback: number, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (value === null || !/^\d+$/.test(value.trim())) return fallback;
  const n = Number(value);
  return n >= min && n <= max ? n : fallback;
}

/** A query value restricted to a set of choices ("" when absent or not one of them). */
export function choiceParam<C extends string>(value: string | null, choices: readonly C[]): C | "" {
  return value !== null && (choices as readonly string[]).includes(value) ? (value as C) : "";
}

/** path + query string; empty, null and undefined values are left out. */
export function buildUrl(path: string, params: Record<string, string | number | null | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

export const HOME = "/app/projects";
export const LOGIN = "/app/login";

/** Where to go after logging in: only paths inside the app (no other origin, no protocol-relative URL). */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith("/app/") || next.startsWith("//") || /[\\\s]/.test(next)) return HOME;
  const path = next.split(/[?#]/, 1)[0];
  if (path === LOGIN || path === `${LOGIN}/`) return HOME;
  return next;
}

export function loginUrl(next: string): string {
  const target = safeNext(next);
  return buildUrl(LOGIN, { next: target === HOME ? undefined : target });
}

/** "/" and "/app" have no page of their own. */
export function redirectFor(path: string): string | null {
  return path === "/" || path === "" || path === "/app" || path === "/app/" ? HOME : null;
}

export interface NavigateOptions {
  replace?: boolean;
}

/**
 * Listens to link clicks inside the app and to the back/forward buttons, and calls `onChange` with the new
 * location. Links are plain <a href="/app/..."> so middle-click and "open in new tab" keep working.
 */
export class Router {
  constructor(private readonly onChange: (url: URL, how: "push" | "replace" | "pop") => void) {}

  start(): void {
    window.addEventListener("popstate", () => this.onChange(this.current(), "pop"));
    document.addEventListener("click", (event) => this.interceptClick(event));
    this.onChange(this.current(), "replace");
  }

  current(): URL {
    return new URL(window.location.href);
  }

  navigate(url: string, options: NavigateOptions = {}): void {
    const target = new URL(url, window.location.href);
    if (options.replace) window.history.replaceState(null, "", target);
    else window.history.pushState(null, "", target);
    this.onChange(target, options.replace ? "replace" : "push");
  }

  /** Change the address bar without rendering (the page already shows what the new URL means). */
  setUrl(url: string): void {
    window.history.replaceState(null, "", new URL(url, window.location.href));
  }

  private interceptClick(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const anchor = (event.target as Element | null)?.closest?.("a");
    if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith("/app/")) return;
    event.preventDefault();
    this.navigate(url.pathname + url.search + url.hash);
  }
}
