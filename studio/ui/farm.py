"""The Farm tab: where renders go (this machine or a Ray farm), each worker's model and job, and
how many jobs wait; plus the ``/farm_state`` endpoint that answers the same for scripts.

The farm is a server setting (``--cluster ray``), not a per-user switch: it decides where every
user's jobs run. The panel names only the viewer's own shots on a team server.
"""

# No ``from __future__ import annotations`` here: gr.api reads the real type hints.

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

REFRESH_SECONDS = 1.5


def farm_html(state: dict) -> str:
    """The panel's HTML (every value escaped)."""
    esc = html.escape
    if not state["enabled"]:
        return (f'<div id="farm-state" data-enabled="false"><p>Renders run on <b>this machine</b>, one at a time '
                f'({int(state["queued"])} waiting). To spread them over GPUs or machines, start the app with '
                '<code>--cluster ray</code> (see the README: <i>A render farm</i>).</p></div>')
    rows = []
    for worker in state["workers"]:
        fraction = worker["done"] / worker["total"] if worker["total"] else 0.0
        job = esc(worker["job"]) if worker["job"] else "—"
        bar = (f'<progress max="1" value="{fraction:.3f}"></progress> {fraction:.0%}'
               if worker["job"] else "")
        rows.append(
            f'<tr class="farm-worker" data-state="{esc(worker["state"])}" data-pid="{int(worker["pid"])}">'
            f'<td>{int(worker["index"])}</td><td>{esc(worker["host"])}</td><td>{int(worker["pid"])}</td>'
            f'<td class="farm-worker-state">{esc(worker["state"])}</td><td class="farm-model">{esc(worker["model"])}</td>'
            f'<td class="farm-job">{job}</td><td>{bar} <small>{esc(worker["message"])}</small></td>'
            f'<td>{int(worker["restarts"])}</td></tr>')
    return (
        f'<div id="farm-state" data-enabled="true"><p>Renders go to the <b>Ray farm</b> at {esc(state["address"])} '
        f'(output: {esc(state["output"])}); <span id="farm-queued">{int(state["queued"])}</span> job(s) waiting.</p>'
        '<table class="farm-table"><thead><tr><th>#</th><th>host</th><th>pid</th><th>state</th><th>model</th>'
        '<th>job</th><th>progress</th><th>restarts</th></tr></thead><tbody>'
        + "".join(rows) + "</tbody></table></div>"
    )


def owner_of(services: Any, request: gr.Request) -> str:
    """The job owner a page request speaks for (the login; else its session)."""
    return services.access.who(getattr(request, "username", None), getattr(request, "session_hash", None)).actor


class FarmPanel:
    """The Farm tab's widgets, built once; a timer refreshes them while the page is open."""

    def __init__(self, services: Any, owner: Callable[[gr.Request], str]) -> None:
        self.services, self.owner = services, owner
        self.html = gr.HTML(farm_html(services.farm_state("")), elem_id="farm-panel")
        self.timer = gr.Timer(REFRESH_SECONDS)

    def wire(self) -> None:
        def refresh(request: gr.Request) -> str:
            return farm_html(self.services.farm_state(self.owner(request)))

        self.timer.tick(refresh, outputs=self.html, show_progress="hidden", queue=False)


def register_api(services: Any, owner: Callable[[gr.Request], str]) -> None:
    """``/farm_state``: the farm's workers (model, job, progress) and the number of jobs waiting."""

    def farm_state(request: gr.Request = None) -> dict:
        """Where renders run: ``enabled`` (a Ray farm) with its ``address`` and ``output`` mode,
        ``workers`` (index, host, pid, state, model, job, done, total, message, restarts) and
        ``queued`` (jobs waiting, all users)."""
        return services.farm_state(owner(request))

    gr.api(farm_state, api_name="farm_state")
