"""HTML and text the UI shows: progress bars, error cards, the timeline strip. Pure functions.

Every piece of user text (titles, prompts, error messages quoting them) goes through
``html.escape`` here, so a prompt can never inject markup into another session's page.
"""

from __future__ import annotations

import html

from studio.board import Board
from studio.services.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobView

CSS = """
#inspector { border-left: 1px solid var(--border-color-primary); padding-left: 8px; }
.save-state { font-size: 0.9em; } .save-state.saved { color: #15803d; }
.save-state.conflict, .save-state.error { color: #b42318; font-weight: 600; }
.compare-pair { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.compare-pair video { width: 100%; }
#wall-toolbar { gap: 6px; flex-wrap: wrap; }
#wall-toolbar button { flex: 0 0 auto; width: auto; min-width: 0; padding: 4px 10px; }
.shot-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 6px; }
.card-error { color: #b42318; font-weight: 600; }
.job { margin: 2px 0; font-size: 0.92em; }
.job progress { width: 100%; height: 10px; }
.job-failed { border: 1px solid #b42318; background: #fef3f2; color: #7a271a; border-radius: 8px; padding: 6px 10px; }
.strip { display: flex; width: 100%; gap: 2px; user-select: none; }
.strip .seg { background: #344054; color: white; padding: 6px 4px; font-size: 0.8em; overflow: hidden;
  white-space: nowrap; text-overflow: ellipsis; border-radius: 4px; cursor: pointer; min-width: 18px; }
.strip .seg.missing { background: #98a2b3; }
"""


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def job_line(job: JobView, position: int | None = None) -> str:
    """One job as a line with a progress bar, step count, elapsed and estimate."""
    label = html.escape(job.label or job.shot_id or job.id)
    if job.status == QUEUED:
        where = f" (#{position + 1} in line)" if position is not None else ""
        return f'<div class="job">… {label}: queued{where}</div>'
    if job.status == RUNNING:
        steps = f"step {job.done} of {job.total}" if job.total else "starting"
        eta = f", about {_seconds(job.eta)} left" if job.eta is not None else ""
        return (f'<div class="job">▶ {label}: {steps}, {_seconds(job.elapsed)} elapsed{eta} '
                f'<progress max="1" value="{job.fraction:.3f}"></progress>'
                f'<br><small>{html.escape(job.message)}</small></div>')
    if job.status == FAILED:
        return (f'<div class="job job-failed">✖ <b>{label} failed</b>: {html.escape(job.error or "unknown error")}'
                "</div>")
    if job.status == CANCELLED:
        return f'<div class="job">■ {label}: cancelled</div>'
    return f'<div class="job">✔ {label}: done in {_seconds(job.elapsed)}</div>'


def board_progress(board: Board, jobs: list[JobView], positions: dict[str, int | None]) -> str:
    """Whole-board progress (takes chosen, the latest batch while it runs) and the owner's active
    and recently failed jobs. A batch bar counts cancelled shots as cancelled, not done, and goes
    away once nothing in it is left to run."""
    chosen = sum(1 for shot in board.shots if shot.chosen_take)
    parts = [f"<div><b>{chosen} of {len(board.shots)} shots</b> have a chosen take · running time "
             f"{board.fps.timecode(board.total_frames)} ({board.fps.frames_to_seconds(board.total_frames):.1f} s)</div>"]
    groups = [job.group for job in jobs if job.group]
    batch = [job for job in jobs if groups and job.group == groups[-1]]
    if batch and not all(job.is_finished for job in batch):
        done = sum(1 for job in batch if job.status == DONE)
        cancelled = sum(1 for job in batch if job.status in (CANCELLED, FAILED))
        fraction = sum(job.fraction for job in batch if not job.is_finished or job.status == DONE) / len(batch)
        running = [job for job in batch if job.status == RUNNING]
        done_jobs = [job for job in batch if job.status == DONE]
        estimate = ""
        if done_jobs:
            mean = sum(job.elapsed for job in done_jobs) / len(done_jobs)
            left = (len(batch) - done - cancelled - (running[0].fraction if running else 0)) * mean
            estimate = f", about {_seconds(left)} left"
        stopped = f", {cancelled} cancelled or failed" if cancelled else ""
        parts.append(f'<div class="job">Rendering {len(batch)} shots: {done} done{stopped}{estimate} '
                     f'<progress max="1" value="{fraction:.3f}"></progress></div>')
    active = [job for job in jobs if not job.is_finished]
    failed = [job for job in jobs if job.status == FAILED][-3:]
    parts += [job_line(job, positions.get(job.id)) for job in active]
    parts += [job_line(job) for job in failed if job not in active]
    return "\n".join(parts)


def running_time(board: Board) -> str:
    total = board.total_frames
    return (f"**Total running time** {board.fps.timecode(total)} · {total} frames at {board.fps} fps "
            f"({board.fps.frames_to_seconds(total):.2f} s) · {len(board.shots)} shots")


def take_info(take, sidecar: dict | None) -> str:
    """Seed and settings of a take, from its JSON sidecar when readable."""
    lines = [f"**{html.escape(take.id)}** · seed `{take.seed}` · {html.escape(take.backend)} · {take.frames} frames"
             + (f" · **{take.quality}**" if take.quality else "")]
    if sidecar:
        drafted = (sidecar.get("quality") or {}).get("from_draft")
        if drafted:
            lines.append(f"final re-render of draft {html.escape(str(drafted))} (same seed and conditioning)")
        camera = ", ".join(f"{c.get('move')} {c.get('intensity')}" for c in sidecar.get("camera", []))
        lines.append(f"camera {html.escape(camera)} · {sidecar.get('width')}x{sidecar.get('height')} · "
                     f"{sidecar.get('elapsed_seconds', '?')} s to make")
        settings = {**sidecar.get("settings", {}), **sidecar.get("options", {})}
        if settings:
            lines.append("settings: " + html.escape(", ".join(f"{k}={v}" for k, v in settings.items())))
    return "  \n".join(lines)
