// /app/projects/:id/members: who is in the project and with which role. Managers add members by username,
// change roles and remove members; the server keeps at least one manager and its message is shown.
import { addMember, listMembers, removeMember, updateMember, type Membership, type Project } from "../api/client";
import type { PageContext } from "../ui/app";
import { field, h, nextId, replaceChildren, srOnly } from "../ui/dom";
import { ROLE_LABELS, formatDate } from "../ui/format";
import { errorMessage } from "../ui/session";
import { toast } from "../ui/toast";
import { errorBox } from "../ui/widgets";
import { isManager, projectPage } from "./projectShell";

type Role = "manager" | "annotator" | "reviewer";
const ROLES: readonly { value: Role; hint: string }[] = [
  { value: "manager", hint: "edits the project, classes and members, uploads images" },
  { value: "annotator", hint: "labels images" },
  { value: "reviewer", hint: "reviews and corrects labels" },
];

export async function membersPage(ctx: PageContext): Promise<void> {
  const id = Number(ctx.params.id);
  const [project, members] = await Promise.all([projectPage(ctx, "members", "Members"), listMembers(id)]);
  if (!project || ctx.signal.aborted) return;
  const manager = isManager(project);

  const error = errorBox("members-error");
  const tableBody = h("tbody");
  const count = h("span", { class: "muted" });
  const state = { members };

  const roleSelect = (value: Role, testid: string, id?: string) =>
    h(
      "select",
      { testid, id },
      ROLES.map((role) => h("option", { value: role.value, selected: role.value === value }, ROLE_LABELS[role.value])),
    );

  const render = () => {
    count.textContent = `${state.members.length} ${state.members.length === 1 ? "member" : "members"}`;
    replaceChildren(tableBody, state.members.map((member) => row(member)));
  };

  const row = (member: Membership): HTMLElement => {
    const me = member.user === ctx.user?.id;
    const name = h(
      "td",
      null,
      h(
        "span",
        { class: "member-user" },
        h("span", { class: "avatar", "aria-hidden": "true" }, member.username.slice(0, 1).toUpperCase()),
        member.username,
        me ? h("span", { class: "muted" }, "(you)") : null,
      ),
    );
    if (!manager) {
      return h("tr", { testid: "member-row", "data-username": member.username }, name, h("td", null, ROLE_LABELS[member.role] ?? member.role), h("td", { class: "muted" }, formatDate(member.created_at)));
    }
    const selectId = nextId("role");
    const select = roleSelect(member.role, "member-role", selectId);
    select.addEventListener("change", async () => {
      error.show(null);
      select.disabled = true;
      try {
        const updated = await updateMember(member.id, select.value as Role);
        state.members = state.members.map((m) => (m.id === updated.id ? updated : m));
        toast(`${member.username} is now ${ROLE_LABELS[updated.role].toLowerCase()}`, "success");
        if (me && updated.role !== "manager") return ctx.navigate(ctx.url.pathname, { replace: true }); // lost the manager controls
      } catch (err) {
        select.value = member.role;
        error.show(errorMessage(err));
      } finally {
        select.disabled = false;
      }
    });
    const actions = h("td", { class: "row-actions" });
    const ask = () => {
      const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", testid: "member-remove", "aria-label": `Remove ${member.username}` }, "Remove");
      remove.addEventListener("click", confirm);
      replaceChildren(actions, remove);
      return remove;
    };
    const confirm = () => {
      const yes = h("button", { type: "button", class: "btn btn-sm btn-danger", testid: "member-remove-confirm" }, `Remove ${member.username}`);
      const no = h("button", { type: "button", class: "btn btn-sm btn-ghost", testid: "member-remove-cancel" }, "Cancel");
      yes.addEventListener("click", async () => {
        error.show(null);
        yes.disabled = true;
        try {
          await removeMember(member.id);
          toast(`${member.username} removed`, "success");
          if (me) return ctx.navigate("/app/projects", { replace: true });
          state.members = state.members.filter((m) => m.id !== member.id);
          render();
        } catch (err) {
          error.show(errorMessage(err));
          ask().focus();
        }
      });
      no.addEventListener("click", () => ask().focus());
      replaceChildren(actions, yes, no);
      yes.focus();
    };
    ask();
    return h(
      "tr",
      { testid: "member-row", "data-username": member.username },
      name,
      h("td", null, h("label", { for: selectId }, srOnly(`Role of ${member.username}`)), select),
      h("td", { class: "muted" }, formatDate(member.created_at)),
      actions,
    );
  };

  const table = h(
    "section",
    { class: "card", "aria-labelledby": "members-title" },
    h("div", { class: "card-title-row" }, h("h2", { id: "members-title", class: "card-title" }, "Members"), count),
    h(
      "table",
      { class: "table", testid: "member-table" },
      h("thead", null, h("tr", null, h("th", null, "User"), h("th", null, "Role"), h("th", null, "Added"), manager ? h("th", null, srOnly("Actions")) : null)),
      tableBody,
    ),
  );

  ctx.el.append(error.el, h("div", { class: manager ? "members-layout" : "" }, table, manager ? addForm(project) : null));
  render();

  function addForm(project: Project): HTMLElement {
    const username = h("input", { type: "text", autocomplete: "off", required: true, testid: "member-username" });
    const role = roleSelect("annotator", "member-add-role");
    const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "member-add" }, "Add member");
    const usernameField = field("Username", username);
    const form = h(
      "form",
      { class: "card card-pad add-member", novalidate: true, "aria-labelledby": "add-member-title" },
      h("h2", { id: "add-member-title" }, "Add a member"),
      usernameField.wrap,
      field("Role", role).wrap,
      h("ul", { class: "role-hints muted" }, ROLES.map((r) => h("li", null, h("strong", null, ROLE_LABELS[r.value]), ` ${r.hint}`))),
      submit,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.show(null);
      const name = username.value.trim();
      usernameField.setError(name ? null : "Enter a username.");
      if (!name) return username.focus();
      submit.disabled = true;
      try {
        const member = await addMember(project.id, name, role.value as Role);
        state.members = [...state.members, member];
        render();
        username.value = "";
        toast(`${member.username} added as ${ROLE_LABELS[member.role].toLowerCase()}`, "success");
        username.focus();
      } catch (err) {
        const message = errorMessage(err);
        usernameField.setError(message);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }
}
