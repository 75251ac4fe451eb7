// Dataset versions on the Exports page: the project's frozen exports (number, format, split, checksums) with their
// downloads, and the "Freeze as version" button of a succeeded export. Mounted by pages/exports.ts.
import {
  ApiError,
  createVersion,
  deleteVersion,
  listVersions,
  versionDownloadUrl,
  versionManifestUrl,
  type DatasetVersion,
  type DatasetVersionDetail,
  type Job,
} from "../api/client";
import { h, replaceChildren } from "../ui/dom";
import { formatBytes, plural } from "../ui/format";
import { errorMessage, loadSection } from "../ui/session";
import { toast } from "../ui/toast";
import { badge, errorBox, spinner } from "../ui/widgets";

const SPLIT_ORDER = ["train", "val", "test"];

/** "train 80 · val 10 · test 10" (train, val, test first, then any other split by name), or "no split". */
export function splitSummary(sizes: Record<string, number> | null | undefined): string {
  const names = Object.keys(sizes ?? {});
  if (!names.length) return "no split";
  const rank = (name: string) => (SPLIT_ORDER.includes(name) ? SPLIT_ORDER.indexOf(name) : SPLIT_ORDER.length);
  names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return names.map((name) => `${name} ${sizes![name]}`).join(" · ");
}

/** "v3", or "v3 · baseline" when the version was given a name of its own. */
export function versionLabel(version: Pick<DatasetVersion, "number" | "name">): string {
  const number = `v${version.number}`;
  return version.name && version.name !== number ? `${number} · ${version.name}` : number;
}

/** What to tell the user when freezing failed (a job frozen before says which version it became). */
export function freezeErrorText(error: unknown): string | null {
  if (error instanceof ApiError && error.code === "already_versioned" && typeof error.extra.number === "number") {
    return `Already frozen as v${error.extra.number}.`;
  }
  return errorMessage(error);
}

export interface VersionsSection extends HTMLElement {
  /** Load the list again (after a version was frozen). */
  refresh(): Promise<void>;
}

/**
 * A `<section class="card card-pad">` listing the project's versions, newest first. `canManage` (managers) adds a
 * Delete button to each; call `refresh()` after freezing one (freezeButton's `onCreated`).
 */
export function versionsSection(projectId: number, signal: AbortSignal, opts: { canManage?: boolean } = {}): VersionsSection {
  const error = errorBox("version-error");
  const list = h("ul", { class: "export-list version-list", testid: "version-list" }, h("li", null, spinner()));
  const section = h("section", { class: "card card-pad", testid: "versions" },
    h("h2", null, "Dataset versions"),
    h("p", { class: "muted" }, "A version is a frozen export: its zip, the SHA-256 of every file in it and its split never change. Check extracted files with ",
      h("code", null, "sha256sum -c"), " and the version's checksums."),
    error.el, list) as VersionsSection;

  const remove = async (version: DatasetVersion) => {
    if (!window.confirm(`Delete ${versionLabel(version)}? Its zip is removed; the number is not reused.`)) return;
    error.show(null);
    try {
      await deleteVersion(version.id);
      toast(`v${version.number} deleted`, "success");
      await section.refresh();
    } catch (err) {
      const message = errorMessage(err);
      if (message) error.show(message);
    }
  };

  const row = (version: DatasetVersion) => {
    const deleted = version.deleted_at !== null;
    const who = (name: string | null, at: string) => `${name ? `${name}, ` : ""}${new Date(at).toLocaleString()}`;
    return h("li", { class: "export-item version-item", testid: "version-item", "data-number": version.number },
      h("strong", null, versionLabel(version)),
      deleted ? [" ", badge("deleted", "rejected")] : null,
      ` · ${version.format} · ${plural(version.image_count, "image")} · ${splitSummary(version.split_sizes)} · ${formatBytes(version.size_bytes)} · `,
      h("code", { class: "muted sha", title: `SHA-256 of the zip: ${version.sha256}` }, version.sha256.slice(0, 12)),
      h("span", { class: "muted" }, ` · ${who(version.created_by_name, version.created_at)}`),
      deleted
        ? h("span", { class: "muted" }, ` · deleted by ${who(version.deleted_by_name, version.deleted_at!)}`)
        : h("span", { class: "version-links" }, " · ",
          h("a", { href: versionDownloadUrl(version.id), download: "", testid: "version-download" }, "Download"), " · ",
          h("a", { href: versionManifestUrl(version.id), target: "_blank", rel: "noopener", testid: "version-manifest", title: "SHA256SUMS of the files in the zip" }, "Checksums"),
          opts.canManage
            ? [" ", h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", testid: "version-delete", "aria-label": `Delete ${versionLabel(version)}`, onclick: () => remove(version) }, "Delete")]
            : null),
      version.note ? h("div", { class: "muted version-note" }, version.note) : null);
  };

  section.refresh = async () => {
    const versions = await loadSection(() => listVersions(projectId), list, error.show, signal);
    if (!versions) return;
    error.show(null);
    replaceChildren(list, versions.length ? versions.map(row) : h("li", { class: "muted" }, "No versions yet. Freeze a succeeded export to make one."));
  };
  void section.refresh();
  return section;
}

/**
 * "Freeze as version" for a succeeded export job: asks for an optional name inline, freezes the job, then calls
 * `onCreated` with the new version. Managers only (the server answers 403 to others).
 */
export function freezeButton(job: Pick<Job, "id" | "project" | "status">, onCreated: (version: DatasetVersionDetail) => void): HTMLElement {
  const wrap = h("span", { class: "freeze", testid: "freeze" });
  const open = h("button", { type: "button", class: "btn btn-sm", testid: "freeze-open", disabled: job.status !== "succeeded" || job.project === null,
    title: job.status === "succeeded" ? "Keep this export as a numbered dataset version" : "Only a succeeded export can be frozen" }, "Freeze as version");
  const name = h("input", { type: "text", maxlength: 100, placeholder: "Name (optional)", "aria-label": "Version name (optional)", testid: "freeze-name" });
  const save = h("button", { type: "submit", class: "btn btn-sm btn-primary", testid: "freeze-save" }, "Freeze");
  const cancel = h("button", { type: "button", class: "btn btn-sm btn-ghost", testid: "freeze-cancel" }, "Cancel");
  const message = h("span", { class: "field-error", role: "alert", testid: "freeze-error" });
  const form = h("form", { class: "freeze-form" }, name, save, cancel, message);

  const ask = () => {
    message.textContent = "";
    replaceChildren(wrap, form);
    name.focus();
  };
  open.addEventListener("click", ask);
  cancel.addEventListener("click", () => replaceChildren(wrap, open));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = cancel.disabled = true;
    message.textContent = "";
    try {
      const version = await createVersion(job.project!, { job_id: job.id, name: name.value.trim(), note: "" });
      replaceChildren(wrap, h("span", { class: "muted", testid: "freeze-done" }, `Frozen as ${versionLabel(version)}`));
      toast(`Frozen as ${versionLabel(version)}`, "success");
      onCreated(version);
    } catch (err) {
      message.textContent = freezeErrorText(err) ?? "";
    } finally {
      save.disabled = cancel.disabled = false;
    }
  });
  replaceChildren(wrap, open);
  return wrap;
}
