import { listProjects, type Project } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, replaceChildren } from "../ui/dom";
import { ROLE_LABELS, formatDate, lastPage, plural } from "../ui/format";
import { buildUrl, intParam } from "../ui/router";
import { emptyState, pageHeader, pagination, spinner } from "../ui/widgets";
import { projectUrl } from "./projectShell";

const PAGE_SIZE = 50; // the server's default page size for lists

export async function projectsPage(ctx: PageContext): Promise<void> {
  ctx.setCrumbs([{ label: "Projects" }]);
  const body = h("div", null, spinner());
  const summary = h("p", { class: "muted", testid: "project-count" });
  ctx.el.append(
    pageHeader(
      "Projects",
      h("a", { class: "btn btn-primary", href: "/app/projects/new", testid: "new-project" }, "+ New project"),
    ),
    summary,
    body,
  );

  const load = async (query: URLSearchParams) => {
    const page = intParam(query.get("page"), 1);
    const data = await listProjects(page);
    if (ctx.signal.aborted) return;
    summary.textContent = plural(data.count, "project");
    if (!data.results.length) {
      replaceChildren(
        body,
        emptyState(
          "No projects yet",
          h("p", null, "Create a project, add its classes and upload images to start labeling."),
          h("a", { class: "btn btn-primary", href: "/app/projects/new" }, "Create a project"),
        ),
      );
      return;
    }
    const last = lastPage(data.count, PAGE_SIZE);
    replaceChildren(
      body,
      projectTable(data.results),
      last > 1 ? pagination(page, last, (p) => buildUrl("/app/projects", { page: p > 1 ? p : undefined })) : null,
    );
  };
  ctx.onQuery((query) => void load(query));
  await load(ctx.query);
}

function projectTable(projects: Project[]): HTMLElement {
  return h(
    "div",
    { class: "card" },
    h(
      "table",
      { class: "table", testid: "project-table" },
      h(
        "thead",
        null,
        h("tr", null, h("th", null, "Name"), h("th", null, "Kind"), h("th", null, "Your role"), h("th", { class: "num" }, "Images"), h("th", null, "Created")),
      ),
      h(
        "tbody",
        null,
        projects.map((project) =>
          h(
            "tr",
            { testid: "project-row", "data-project-id": project.id },
            h("td", null, h("a", { href: projectUrl(project.id), class: "strong-link", testid: "project-link" }, project.name)),
            h("td", null, h("span", { class: "badge badge-kind" }, project.kind)),
            h("td", null, project.role ? (ROLE_LABELS[project.role] ?? project.role) : "—"),
            h("td", { class: "num" }, String(project.image_count)),
            h("td", { class: "muted" }, formatDate(project.created_at)),
          ),
        ),
      ),
    ),
  );
}
