// What every project page shares: load the project, breadcrumbs, the title row and the tabs.
import { getProject, type Project } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, type Child } from "../ui/dom";
import { ROLE_LABELS } from "../ui/format";
import type { Crumb } from "../ui/layout";
import { badge } from "../ui/widgets";

export type ProjectTab = "images" | "upload" | "settings" | "members" | "jobs" | "models" | "dashboard" | "exports";

export const projectUrl = (id: number, tab: ProjectTab = "images") =>
  tab === "images" ? `/app/projects/${id}` : `/app/projects/${id}/${tab}`;

export const isManager = (project: Project) => project.role === "manager";

/** Load the project named by the route (a 404 becomes the not-found page) and draw the header and tabs. */
export async function projectPage(ctx: PageContext, tab: ProjectTab, subtitle?: string): Promise<Project | null> {
  const id = Number(ctx.params.id);
  const project = await getProject(id);
  if (ctx.signal.aborted) return null;
  const crumbs: Crumb[] = [
    { label: "Projects", href: "/app/projects" },
    { label: project.name, href: projectUrl(id) },
  ];
  if (tab === "settings" && !isManager(project)) subtitle = "Classes & guidelines";
  if (subtitle) crumbs.push({ label: subtitle });
  ctx.setCrumbs(crumbs);
  ctx.el.append(projectHeader(project, tab));
  return project;
}

export function projectHeader(project: Project, active: ProjectTab): HTMLElement {
  const manager = isManager(project);
  const tabs: [ProjectTab, string][] = [
    ["images", "Images"],
    ...(manager ? ([["upload", "Upload"]] as [ProjectTab, string][]) : []),
    ["settings", manager ? "Settings" : "Classes & guidelines"],
    ["members", "Members"],
    ["jobs", "Jobs"],
    ["models", "Models"],
    ...(manager || project.role === "reviewer"
      ? ([["dashboard", "Dashboard"], ["exports", "Exports"]] as [ProjectTab, string][]) : []),
  ];
  const meta: Child[] = [
    badge(project.kind, "kind"),
    project.role ? h("span", { class: "muted" }, `You are ${ROLE_LABELS[project.role]?.toLowerCase() ?? project.role}`) : null,
  ];
  return h(
    "div",
    { class: "project-head" },
    h("div", { class: "project-title" }, h("h1", { testid: "project-name" }, project.name), meta),
    h(
      "nav",
      { class: "tabs", "aria-label": "Project sections" },
      tabs.map(([tab, label]) =>
        h(
          "a",
          {
            href: projectUrl(project.id, tab),
            class: `tab${tab === active ? " is-active" : ""}`,
            "aria-current": tab === active ? "page" : undefined,
            testid: `tab-${tab}`,
          },
          label,
        ),
      ),
    ),
  );
}
