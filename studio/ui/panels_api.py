"""Named HTTP endpoints for drawn panels: the Draw tab's actions for scripts.

``/save_panel`` (layers as PNG data URLs, back to front), ``/panel_layers`` (depth, visibility,
opacity of stored layers), ``/split_keyframe`` and ``/discard_panel``, ``/import_panel`` (an .ora,
.psd or image file) and ``/export_panel`` (downloads the .ora or .psd). Each returns the board's
new revision and the shot's panels, or downloads the file.
"""

# No ``from __future__ import annotations`` here: gr.api reads the real type hints.

from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.board_codec import panel_to_dict


def register(opened: Callable[..., Any], owner: Callable[[Any], str], guarded: Callable, public: Callable,
             media: Any) -> None:
    """Add the endpoints (``opened(project, request)`` gives an editor's project, ``owner`` the
    request's actor, ``guarded`` turns service errors into gr.Error, ``public`` renames paths)."""
    from studio.services import depth_split, panels
    from studio.ui.drawing import decode_layers

    def answer(board: Any, shot_id: str) -> dict:
        return {"revision": board.revision,
                "panels": public([panel_to_dict(panel) for panel in board.shot(shot_id).panels])}

    def save_panel(project: str, shot_id: str, layers: list, role: str = "first", frame: int = 0,
                   keyframe: bool = True, request: gr.Request = None) -> dict:
        """Save a drawn panel: ``layers`` back to front, each {"name", "depth", "visible", "opacity",
        "png": "data:image/png;base64,..."}; the flattened panel becomes the shot's ``role``
        keyframe unless ``keyframe`` is false."""
        board = panels.save_panel(opened(project, request).project, shot_id, decode_layers(layers), role,
                                  int(frame), keyframe=keyframe, actor=owner(request))
        return answer(board, shot_id)

    def panel_layers(project: str, shot_id: str, changes: list, role: str = "first", frame: int = 0,
                     request: gr.Request = None) -> dict:
        """Change stored layers: ``changes`` is [{"name", "depth"?, "visible"?, "opacity"?}, ...]."""
        board = panels.update_layers(opened(project, request).project, shot_id, changes, role, int(frame),
                                     actor=owner(request))
        return answer(board, shot_id)

    def split_keyframe(project: str, shot_id: str, role: str = "first", frame: int = 0,
                       request: gr.Request = None) -> dict:
        """Split the shot's keyframe into far, mid and near layers (a depth model when its weights
        are on the server, else horizon + GrabCut); the picture stays the keyframe."""
        board = depth_split.split_keyframe(opened(project, request).project, shot_id, role, int(frame),
                                           actor=owner(request))
        return answer(board, shot_id)

    def discard_panel(project: str, shot_id: str, role: str = "first", frame: int = 0,
                      request: gr.Request = None) -> dict:
        """Forget a panel's layers (the flattened picture stays the keyframe)."""
        board = panels.discard_panel(opened(project, request).project, shot_id, role, int(frame), actor=owner(request))
        return answer(board, shot_id)

    for fn in (save_panel, panel_layers, split_keyframe, discard_panel):
        gr.api(guarded(fn), api_name=fn.__name__, concurrency_id="edit", concurrency_limit=4)

    with gr.Column(visible=False):
        project_in = gr.Textbox(label="project")
        shot_in = gr.Textbox(label="shot_id")
        role_in = gr.Textbox(label="role")
        frame_in = gr.Number(label="frame", precision=0)
        format_in = gr.Textbox(label="fmt")
        file_in = gr.File(label="file", type="filepath")
        file_out = gr.File(label="file")
        result_out = gr.JSON(label="result")
        import_trigger = gr.Button("import_panel", visible=False)
        export_trigger = gr.Button("export_panel", visible=False)

    def import_panel(project: str, shot_id: str, role: str, frame: float, file: str, request: gr.Request) -> dict:
        """Import an .ora, .psd or image file as the shot's ``role`` panel (layers and names kept)."""
        if not file:
            raise gr.Error("file: send an .ora, .psd or image file")
        path = Path(file)

        def run() -> dict:
            board = panels.import_file(opened(project, request).project, shot_id, path.read_bytes(), path.name,
                                       role or "first", int(frame or 0), actor=owner(request))
            return answer(board, shot_id)
        return guarded(run)()

    def export_panel(project: str, shot_id: str, role: str, frame: float, fmt: str, request: gr.Request) -> str:
        """Download the shot's ``role`` panel as ``fmt`` (ora or psd)."""
        def run() -> str:
            p = opened(project, request, "viewer").project
            return media.publish(panels.export_panel_file(p, shot_id, fmt.strip(), role or "first", int(frame or 0)))
        return guarded(run)()

    import_trigger.click(import_panel, [project_in, shot_in, role_in, frame_in, file_in], [result_out],
                         api_name="import_panel", concurrency_id="edit", concurrency_limit=4)
    export_trigger.click(export_panel, [project_in, shot_in, role_in, frame_in, format_in], [file_out],
                         api_name="export_panel", concurrency_id="export", concurrency_limit=2)
