"""The team parts of the page: the project picker's rows, the share box, and the list of renders a
restart interrupted (each with a one-click "Queue again" and "Dismiss").

Every handler here turns widget values into one call of the access service or the app services
(``studio.services.access``, ``StudioServices.requeue``); the rules live there. Projects are shown
by title and id, never by a server folder, unless the app is a local one with no login.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from studio.board import BoardError
from studio.services.access import NO_ACCESS, OWNER, SHARE_ROLES, Who
from studio.services.app import StudioServices
from studio.services.fields import FieldError
from studio.services.jobs import JobNotFound, JobView, NotInterrupted, QueueFull
from studio.storage import Project, ProjectError

PUBLIC_ERRORS = (ProjectError, BoardError, FieldError, JobNotFound, NotInterrupted, QueueFull)
INTERRUPTED_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-job]');
  if (!button) return;
  button.disabled = true;
  trigger('click', {action: button.dataset.action, id: button.dataset.job});
});
"""
"""One delegated listener: a button in the list sends its action and job id as the click's data."""
CSS = """
.interrupted { border: 1px solid #a16207; background: #fffbeb; color: #713f12;
  border-radius: 8px; padding: 6px 10px; margin-bottom: 6px; }
.interrupted button { margin-left: 6px; padding: 1px 8px; border-radius: 6px;
  border: 1px solid #a16207; background: white; cursor: pointer; }
"""


def who_of(value: dict) -> Who:
    """The identity a tab's view was opened with (rights, and jobs/undo)."""
    return Who(user=value["user"], actor=value["owner"])


def project_choices(services: StudioServices, who: Who) -> list[tuple[str, str]]:
    """The picker's rows: the user's own and shared projects, recent first, as (label, id)."""
    rows = []
    for row in services.access.projects(who):
        whose = "" if row.role == OWNER else f" · {row.owner}'s, you {'edit' if row.role == 'editor' else 'view'}"
        rows.append((f"{row.title}{whose} ({row.id})", row.id))
    return rows


def project_line(services: StudioServices, project_id: str, project: Project, role: str) -> str:
    """What the Project tab says about the open project: its id, and the folder only on a local
    app (a team server never shows a server path)."""
    if not services.access.shared:
        return f"Project folder: `{project.root}` · id `{project_id}`"
    return f"Project id: `{project_id}` · your role: **{role}**"


def shares_text(services: StudioServices, who: Who, project_id: str) -> str:
    """Who the open project is shared with (for its owner), or who shared it (for the others)."""
    if not services.access.shared:
        return "Sharing needs logins: start the server with `--auth-file`."
    row = next((r for r in services.access.projects(who) if r.id == project_id), None)
    if row is None:
        return ""
    if row.role != OWNER:
        return f"Shared with you by **{html.escape(row.owner)}** as **{row.role}**."
    if not row.shares:
        return "Not shared: only you can open it."
    return "Shared with: " + ", ".join(f"**{html.escape(user)}** ({role})" for user, role in row.shares)


def interrupted_html(jobs: list[JobView]) -> str:
    """The user's interrupted renders, each with its buttons (empty when there are none)."""
    if not jobs:
        return ""
    rows = []
    for job in jobs:
        label = html.escape(job.label or job.shot_id or job.id)
        seed = f", seed {job.seed}" if job.seed is not None else ""
        rows.append(f'<div class="interrupted">⟲ <b>{label}</b>{seed}: interrupted by a server restart'
                    f'<button data-action="requeue" data-job="{html.escape(job.id)}">Queue again</button>'
                    f'<button data-action="dismiss" data-job="{html.escape(job.id)}">Dismiss</button></div>')
    return "".join(rows)


class WorkspaceWidgets:
    """The share box (Project tab) and the interrupted-renders list (above the wall)."""

    def __init__(self, services: StudioServices) -> None:
        self.services = services
        self.interrupted: gr.HTML | None = None
        self.shares: gr.Markdown | None = None
        self.share_user: gr.Dropdown | None = None
        self.share_role: gr.Radio | None = None
        self.share_button: gr.Button | None = None
        self.share_row: gr.Row | None = None

    def build_interrupted(self) -> gr.HTML:
        """Call where the list should appear (inside the Blocks being built)."""
        self.interrupted = gr.HTML("", js_on_load=INTERRUPTED_JS, css_template=CSS, elem_id="interrupted-jobs")
        return self.interrupted

    def build_share_box(self) -> None:
        """Call inside the Project tab: who the project is shared with, and the form to share it."""
        gr.Markdown("### Sharing")
        self.shares = gr.Markdown("", elem_id="shares")
        users = sorted(self.services.access.users)
        with gr.Row(visible=self.services.access.shared) as self.share_row:
            self.share_user = gr.Dropdown(users, label="Share with (a login on this server)", scale=2,
                                          elem_id="share-user")
            self.share_role = gr.Radio([*SHARE_ROLES, NO_ACCESS], value=SHARE_ROLES[0], label="As",
                                       scale=2, elem_id="share-role")
            self.share_button = gr.Button("Share", scale=1, elem_id="share-button")

    def updates(self, value: dict) -> dict[Any, Any]:
        """The list and the share line for a tab that (re)opened a project."""
        who = who_of(value)
        return {self.interrupted: interrupted_html(self.services.interrupted(who)),
                self.shares: shares_text(self.services, who, value["project"]),
                self.share_row: gr.update(visible=self.services.access.shared and value["role"] == OWNER)}

    def polled(self, value: dict) -> tuple[dict, dict[Any, Any]]:
        """The list again when it changed since this tab last showed it (another tab of the same
        user queued one again or dismissed it); the tab's view remembers which jobs it shows."""
        jobs = self.services.interrupted(who_of(value))
        shown = [job.id for job in jobs]
        if shown == value.get("interrupted"):
            return value, {}
        return {**value, "interrupted": shown}, {self.interrupted: interrupted_html(jobs)}

    def outputs(self) -> list[Any]:
        return [self.interrupted, self.shares, self.share_row]

    def wire(self, view: gr.State, **events: Any) -> None:
        """Connect the buttons; ``events`` are the Gradio event options (concurrency group)."""
        assert self.interrupted is not None and self.share_button is not None
        self.interrupted.click(self.job_action, [view], [self.interrupted], **events)
        self.share_button.click(self.share, [view, self.share_user, self.share_role], [self.shares], **events)

    def job_action(self, value: dict | None, event: gr.EventData) -> str:
        """Queue again or dismiss one interrupted render (the button's data names which)."""
        if not value:
            return gr.skip()
        data = getattr(event, "_data", None) or {}
        action, job_id = data.get("action"), data.get("id")
        who = who_of(value)
        if not isinstance(job_id, str) or action not in ("requeue", "dismiss"):
            return gr.skip()
        try:
            if action == "requeue":
                job = self.services.requeue(who, job_id)
                gr.Info(f"{job.label or job.shot_id}: queued again")
            else:
                self.services.dismiss(who, job_id)
        except PUBLIC_ERRORS as error:
            gr.Warning(str(error))
        return interrupted_html(self.services.interrupted(who))

    def share(self, value: dict | None, user: str | None, role: str | None) -> str:
        if not value:
            return gr.skip()
        who = who_of(value)
        try:
            self.services.access.share(who, value["project"], user, role)
        except PUBLIC_ERRORS as error:
            return f"⚠ {html.escape(str(error))}"
        return shares_text(self.services, who, value["project"])
