// The route table (first match wins; `:id(int)` only matches digits, so "new" never reaches a project page).
import type { RouteDef } from "../ui/app";
import { dashboardPage } from "./dashboard";
import { editorPage } from "./editorRoute";
import { exportsPage } from "./exports";
import { imagesPage } from "./images";
import { jobsPage } from "./jobs";
import { loginPage } from "./login";
import { membersPage } from "./members";
import { modelsPage } from "./models";
import { newProjectPage, projectSettingsPage } from "./projectForm";
import { projectsPage } from "./projects";
import { uploadPage } from "./upload";

export const routes: readonly RouteDef[] = [
  { pattern: "/app/login", page: loginPage, public: true },
  { pattern: "/app/projects", page: projectsPage },
  { pattern: "/app/projects/new", page: newProjectPage },
  { pattern: "/app/projects/:id(int)", page: imagesPage },
  { pattern: "/app/projects/:id(int)/settings", page: projectSettingsPage },
  { pattern: "/app/projects/:id(int)/members", page: membersPage },
  { pattern: "/app/projects/:id(int)/upload", page: uploadPage },
  { pattern: "/app/projects/:id(int)/jobs", page: jobsPage },
  { pattern: "/app/projects/:id(int)/models", page: modelsPage },
  { pattern: "/app/projects/:id(int)/dashboard", page: dashboardPage },
  { pattern: "/app/projects/:id(int)/exports", page: exportsPage },
  { pattern: "/app/images/:id(int)", page: editorPage, wide: true },
];
