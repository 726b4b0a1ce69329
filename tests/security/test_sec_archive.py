"""Project archives (.zip): a shared archive can never write outside its folder or exhaust the disk."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from studio import archive
from studio.archive import ArchiveError, pack, unpack
from studio.storage import Project

from conftest import small_board


def board_bytes(tmp_path: Path) -> bytes:
    return Project.create(tmp_path / "source", small_board()).board_path.read_bytes()


def make_zip(path: Path, entries: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in entries.items():
            bundle.writestr(name, content)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, "/etc/passwd")
    return path


def test_pack_and_unpack_round_trip(sample_project: Project, tmp_path: Path) -> None:
    (sample_project.exports_dir / "animatic.mp4").write_bytes(b"can be made again")
    bundle = pack(sample_project, tmp_path / "film.zip")
    copy = unpack(bundle, tmp_path / "copy")
    assert copy.load() == sample_project.load()
    assert not (copy.exports_dir / "animatic.mp4").exists()
    for keyframe in (k for s in copy.load().shots for k in s.keyframes):
        assert copy.resolve(keyframe.path).read_bytes() == sample_project.resolve(keyframe.path).read_bytes()


@pytest.mark.parametrize("bad_name", [
    "../escaped.txt", "keyframes/../../escaped.txt", "/tmp/escaped.txt", "C:/escaped.txt",
    "keyframes\\..\\..\\escaped.txt",
])
def test_entries_leaving_the_folder_are_refused_and_nothing_is_written(tmp_path: Path, bad_name: str) -> None:
    bundle = make_zip(tmp_path / "evil.zip", {"board.json": board_bytes(tmp_path), bad_name: b"x"})
    with pytest.raises(ArchiveError, match="refused"):
        unpack(bundle, tmp_path / "target")
    assert not (tmp_path / "target").exists()
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


def test_symlink_entries_are_refused(tmp_path: Path) -> None:
    bundle = make_zip(tmp_path / "link.zip", {"board.json": board_bytes(tmp_path)}, symlink="keyframes/passwd.png")
    with pytest.raises(ArchiveError, match="symbolic link"):
        unpack(bundle, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_a_zip_bomb_stops_at_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 1024 * 1024)
    bundle = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("board.json", board_bytes(tmp_path))
        handle.writestr("takes/zeros.bin", b"\0" * (8 * 1024 * 1024))   # 8 MB that packs to a few KB
    assert bundle.stat().st_size < 100_000
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        unpack(bundle, tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_not_a_project_or_not_a_zip_or_a_hostile_board_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no board.json"):
        unpack(make_zip(tmp_path / "a.zip", {"notes.txt": b"hi"}), tmp_path / "t1")
    (tmp_path / "b.zip").write_bytes(b"<html>not a zip</html>")
    with pytest.raises(ArchiveError, match="not a zip archive"):
        unpack(tmp_path / "b.zip", tmp_path / "t2")
    hostile = b'{"schema_version": 2, "shots": [{"id": "a", "keyframes": [{"role": "first", "path": "../../etc/passwd"}]}]}'
    with pytest.raises(Exception, match="inside the project"):
        unpack(make_zip(tmp_path / "c.zip", {"board.json": hostile}), tmp_path / "t3")
    assert not any((tmp_path / name).exists() for name in ("t1", "t2", "t3"))


def test_an_archive_cannot_plant_backups_history_locks_caches_or_partials(tmp_path: Path) -> None:
    """Issue 13: a planted .backups/board-9999... was unpacked, never rotated out, and restored by
    `studio recover` over the user's work after 12 real edits."""
    planted_board = Project.create(tmp_path / "planted", small_board(shots=1)).load().replace(title="PLANTED")
    planted = (tmp_path / "planted")
    Project.open(planted).save(planted_board)
    planted_bytes = (planted / "board.json").read_bytes()
    entries = {
        "board.json": board_bytes(tmp_path),
        ".backups/board-99991231T235959-999999999.json": planted_bytes,
        ".previz/history.jsonl": b'{"revision": 999}\n',
        ".previz.lock": b"",
        "exports/.cache/piece.mp4": b"cached",
        "takes/s1/.tk_1.123.456.partial.mp4": b"half",
        "keyframes/.DS_Store": b"junk",
        "__MACOSX/board.json": b"junk",
        "notes.txt": b"not part of a project",
        "exports/board.otio": b"{}",
    }
    heard: list[str] = []
    project = unpack(make_zip(tmp_path / "evil.zip", entries), tmp_path / "target", warn=heard.append)
    files = sorted(p.relative_to(project.root).as_posix() for p in project.root.rglob("*") if p.is_file())
    assert files == ["board.json", "exports/board.otio"]
    assert len(heard) == 1 and "skipped 8 entries" in heard[0] and ".backups/board-9999" in heard[0]
    for n in range(12):
        project.update(lambda board, n=n: board.replace(title=f"edit {n}"))
    project.board_path.write_bytes(b"{broken")
    recovered, source = project.recover()
    assert recovered.title == "edit 11" and "9999" not in source.name


def test_pack_carries_only_the_project(sample_project: Project, tmp_path: Path) -> None:
    (sample_project.root / ".previz").mkdir(exist_ok=True)
    (sample_project.root / ".previz" / "history.jsonl").write_text("{}\n")
    (sample_project.exports_dir / ".cache").mkdir()
    (sample_project.exports_dir / ".cache" / "piece.mp4").write_bytes(b"x")
    (sample_project.root / "stray.txt").write_text("x")
    (sample_project.takes_dir / ".tk.1.2.partial.mp4").write_bytes(b"x")
    sample_project.save(sample_project.load().replace(title="backed up"))
    with zipfile.ZipFile(pack(sample_project, tmp_path / "film.zip", include_exports=True)) as bundle:
        names = bundle.namelist()
    assert "board.json" in names
    assert all(archive.is_project_entry(name) for name in names), names
    assert not [name for name in names if name.startswith((".", "stray")) or "/." in name]
