"""Project folders from elsewhere: paths stay inside, URLs are never fetched, nothing is written out.

A board.json (or a whole folder) may come from a colleague, a download or an attacker. Every
path it names must resolve inside the folder -- no '..', absolute paths, drive letters, URLs or
symlinks out -- and the app must never write outside it through a symlinked sub-folder.

Archive import: the app has no "open a .zip/.otioz" feature (no zipfile use anywhere in
studio/), so there is no archive path to test; see the report of issue 7.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from studio.storage import InvalidBoardError, Project, ProjectError, UnsafePathError

from conftest import small_board


def with_keyframe(project: Project, path: str) -> bytes:
    data = json.loads(project.board_path.read_text())
    data["shots"][0]["keyframes"] = [{"role": "first", "path": path, "frame": 0}]
    return json.dumps(data).encode()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "film", small_board())


@pytest.mark.parametrize("path", [
    "../secret.png", "keyframes/../../secret.png", "/etc/passwd", "~/secret.png", "C:/Windows/win.ini",
    "keyframes\\..\\..\\secret.png", "keyframes/./../../x.png", "./board.json", "keyframes//x.png",
    "keyframes/x.png\x00.txt", "http://127.0.0.1:9/x.png", "file:///etc/passwd", "data:image/png;base64,AAAA",
])
def test_paths_leaving_the_folder_are_refused_on_load(project: Project, path: str) -> None:
    content = with_keyframe(project, path)
    project.board_path.write_bytes(content)
    with pytest.raises(InvalidBoardError) as caught:
        project.load()
    assert "shots[0].keyframes[0].path" in str(caught.value)
    assert project.board_path.read_bytes() == content


@pytest.mark.parametrize("link", ["file", "folder"])
def test_symlinks_out_of_the_folder_are_refused(project: Project, tmp_path: Path, link: str) -> None:
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours")
    if link == "file":
        (project.keyframes_dir / "k.png").symlink_to(secret)
        relative = "keyframes/k.png"
    else:
        (project.root / "linked").symlink_to(secret.parent, target_is_directory=True)
        relative = "linked/secret.png"
    project.board_path.write_bytes(with_keyframe(project, relative))
    with pytest.raises(UnsafePathError, match="outside the project folder"):
        project.load()


def test_urls_in_a_project_are_never_fetched(project: Project) -> None:
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/keyframe.png"
        data = json.loads(project.board_path.read_text())
        data["shots"][0]["keyframes"] = [{"role": "first", "path": url, "frame": 0}]
        data["shots"][1]["takes"] = [{"id": "t1", "path": url, "seed": 1, "backend": "animatic",
                                      "model": None, "frames": 12, "created": ""}]
        data["audio"] = {"path": url, "offset": 0, "fade_out": 0}
        project.board_path.write_text(json.dumps(data))
        for attempt in (project.load, lambda: project.update(lambda b: b)):
            with pytest.raises(ProjectError):
                attempt()
        from studio.services.export import ExportError, export_board
        from studio.services.render import render_shot
        from studio.backends.base import GenerationError

        with pytest.raises((ProjectError, ExportError)):
            export_board(project, "otio")
        with pytest.raises((ProjectError, GenerationError)):
            render_shot(project, "s1")
        server.shutdown()
    assert hits == []


def test_a_symlinked_takes_folder_is_never_written_through(project: Project, tmp_path: Path) -> None:
    from studio.services.render import render_shot

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(project.takes_dir)
    project.takes_dir.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        render_shot(project, "s1")
    assert list(outside.rglob("*")) == []


def test_a_symlinked_keyframes_folder_is_never_written_through(project: Project, tmp_path: Path) -> None:
    """Regression: import_keyframe wrote keyframes/<hash>.png through a symlinked keyframes/
    folder to wherever it pointed, and only the board save afterwards noticed."""
    from PIL import Image
    import io

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(project.keyframes_dir)
    project.keyframes_dir.symlink_to(outside, target_is_directory=True)
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(buffer, format="PNG")
    with pytest.raises(UnsafePathError):
        project.import_keyframe(buffer.getvalue(), ".png")
    assert list(outside.iterdir()) == []


def test_a_symlinked_exports_folder_is_never_written_through(project: Project, tmp_path: Path) -> None:
    from studio.services.export import ExportError, export_board

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(project.exports_dir)
    project.exports_dir.symlink_to(outside, target_is_directory=True)
    with pytest.raises((UnsafePathError, ExportError)):
        export_board(project, "csv")
    assert list(outside.iterdir()) == []


def test_the_app_never_follows_symlinks_when_copying_a_project(tmp_path: Path) -> None:
    from studio.services.workspace import Workspace

    workspace = Workspace(home=tmp_path / "home", sample=None)
    project = workspace.new("film", small_board())
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (project.keyframes_dir / "link.png").symlink_to(secret)
    copy = workspace.save_as(project, "copy")
    assert not (copy.keyframes_dir / "link.png").exists()
    assert "private" not in "".join(p.read_text(errors="ignore") for p in copy.root.rglob("*") if p.is_file())
    assert os.path.islink(project.keyframes_dir / "link.png")
