import { describe, expect, it } from "vitest";
import { routes } from "../../src/pages/routes";
import { buildUrl, choiceParam, intParam, loginUrl, matchPath, redirectFor, resolve, safeNext } from "../../src/ui/router";
import { imageQueryParams, parseImageQuery } from "../../src/pages/imageQuery";

describe("matchPath", () => {
  it("matches literal segments and captures params", () => {
    expect(matchPath("/app/projects", "/app/projects")).toEqual({});
    expect(matchPath("/app/projects/:id/settings", "/app/projects/7/settings")).toEqual({ id: "7" });
    expect(matchPath("/app/projects/:id", "/app/projects/7/settings")).toBeNull();
    expect(matchPath("/app/projects", "/app/project")).toBeNull();
  });

  it("ignores a trailing slash and decodes params", () => {
    expect(matchPath("/app/projects/:id", "/app/projects/7/")).toEqual({ id: "7" });
    expect(matchPath("/app/x/:name", "/app/x/a%20b")).toEqual({ name: "a b" });
    expect(matchPath("/app/x/:name", "/app/x/%E0%A4%A")).toBeNull();
  });

  it("(int) params only match positive integers", () => {
    expect(matchPath("/app/images/:id(int)", "/app/images/42")).toEqual({ id: "42" });
    for (const bad of ["new", "0", "-1", "1.5", "1e3", "007", "12345678901234567"]) {
      expect(matchPath("/app/images/:id(int)", `/app/images/${bad}`)).toBeNull();
    }
  });
});

describe("the route table", () => {
  const pattern = (path: string) => resolve(routes, path)?.route.pattern ?? null;

  it("sends each app URL to its page", () => {
    expect(pattern("/app/login")).toBe("/app/login");
    expect(pattern("/app/projects")).toBe("/app/projects");
    expect(pattern("/app/projects/new")).toBe("/app/projects/new");
    expect(pattern("/app/projects/3")).toBe("/app/projects/:id(int)");
    expect(pattern("/app/projects/3/settings")).toBe("/app/projects/:id(int)/settings");
    expect(pattern("/app/projects/3/members")).toBe("/app/projects/:id(int)/members");
    expect(pattern("/app/projects/3/upload")).toBe("/app/projects/:id(int)/upload");
    expect(pattern("/app/images/9")).toBe("/app/images/:id(int)");
    expect(resolve(routes, "/app/images/9")?.params).toEqual({ id: "9" });
  });

  it("leaves unknown URLs to the not-found page", () => {
    for (const path of ["/app/nope", "/app/projects/abc", "/app/projects/3/nope", "/app/images/", "/app/projects/new/settings"]) {
      expect(pattern(path)).toBeNull();
    }
  });

  it("only the login page is public", () => {
    expect(routes.filter((r) => r.public).map((r) => r.pattern)).toEqual(["/app/login"]);
  });

  it("redirects the bare roots to the project list", () => {
    expect(redirectFor("/")).toBe("/app/projects");
    expect(redirectFor("/app")).toBe("/app/projects");
    expect(redirectFor("/app/")).toBe("/app/projects");
    expect(redirectFor("/app/projects")).toBeNull();
  });
});

describe("query helpers", () => {
  it("intParam accepts positive integers only", () => {
    expect(intParam("3", 1)).toBe(3);
    expect(intParam(null, 1)).toBe(1);
    expect(intParam("0", 1)).toBe(1);
    expect(intParam("-2", 1)).toBe(1);
    expect(intParam("2.5", 1)).toBe(1);
    expect(intParam("abc", 1)).toBe(1);
    expect(intParam("50", 1, { max: 20 })).toBe(1);
  });

  it("choiceParam keeps known values", () => {
    expect(choiceParam("new", ["new", "approved"] as const)).toBe("new");
    expect(choiceParam("evil", ["new", "approved"] as const)).toBe("");
    expect(choiceParam(null, ["new"] as const)).toBe("");
  });

  it("buildUrl drops empty values and encodes the rest", () => {
    expect(buildUrl("/app/projects/1", {})).toBe("/app/projects/1");
    expect(buildUrl("/app/projects/1", { state: "", page: 2, search: "a b&c", split: undefined, x: null })).toBe(
      "/app/projects/1?page=2&search=a+b%26c",
    );
  });
});

describe("login redirects", () => {
  it("safeNext keeps in-app paths with their query", () => {
    expect(safeNext("/app/projects/3?state=new&page=2")).toBe("/app/projects/3?state=new&page=2");
  });

  it("safeNext refuses other origins and odd paths", () => {
    for (const bad of [null, "", "https://evil.example/app/", "//evil.example/app/x", "/\\evil.example", "javascript:alert(1)", "/admin/", "/app/login", "/app/login?next=/app/x", "/app/ x"]) {
      expect(safeNext(bad)).toBe("/app/projects");
    }
  });

  it("loginUrl keeps where the user was", () => {
    expect(loginUrl("/app/projects/3?state=new")).toBe("/app/login?next=%2Fapp%2Fprojects%2F3%3Fstate%3Dnew");
    expect(loginUrl("/app/projects")).toBe("/app/login");
    expect(loginUrl("//evil.example")).toBe("/app/login");
  });
});

describe("image grid query", () => {
  it("parses the URL with defaults and ignores junk", () => {
    expect(parseImageQuery(new URLSearchParams(""))).toEqual({ state: "", split: "", search: "", ordering: "", page: 1, pageSize: 48 });
    expect(parseImageQuery(new URLSearchParams("state=submitted&split=val&search=%20cat%20&ordering=-uncertainty&page=3&page_size=96"))).toEqual({
      state: "submitted",
      split: "val",
      search: "cat",
      ordering: "-uncertainty",
      page: 3,
      pageSize: 96,
    });
    expect(parseImageQuery(new URLSearchParams("state=bogus&split=x&ordering=name&page=-1&page_size=7"))).toEqual({
      state: "",
      split: "",
      search: "",
      ordering: "",
      page: 1,
      pageSize: 48,
    });
  });

  it("round-trips through the URL and omits defaults", () => {
    const q = { state: "approved" as const, split: "" as const, search: "dog", ordering: "-uncertainty" as const, page: 2, pageSize: 24 };
    const url = buildUrl("/app/projects/1", imageQueryParams(q));
    expect(url).toBe("/app/projects/1?state=approved&search=dog&ordering=-uncertainty&page=2&page_size=24");
    expect(parseImageQuery(new URL(url, "http://x").searchParams)).toEqual(q);
    expect(buildUrl("/app/projects/1", imageQueryParams(parseImageQuery(new URLSearchParams())))).toBe("/app/projects/1");
  });
});
