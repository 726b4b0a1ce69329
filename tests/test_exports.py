"""Every export format, parsed back with the tool that reads it (ffprobe, PyAV, OTIO, pypdf, csv)."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image
from pypdf import PdfReader

from studio.board import AudioTrack, Transition
from studio.media import read_video
from studio.cli import main as studio_main
from studio.services.export import EXPORT_FORMATS, ExportError, ExportOptions, export_board
from studio.compositor import Compositor
from studio.services.takes import attach_media
from studio.timeline import ExportCancelled, build_timeline, frame_recipes
from tests.exportkit import H, W, copied_frames, edit, ffprobe, identify, make_project, write_tone


def test_cut_only_mp4_is_stream_copied_and_frame_exact(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(30, 20, 25))
    path = export_board(project, "mp4")
    assert path == project.exports_dir / "animatic.mp4"
    info = ffprobe(path)
    assert (info["codec_name"], info["pix_fmt"], info["r_frame_rate"], info["profile"]) == ("h264", "yuv420p", "24/1", "High")
    assert int(info["nb_read_frames"]) == 75 and float(info["duration"]) == pytest.approx(75 / 24, abs=1e-3)
    frames = read_video(path)
    assert [identify(f) for f in frames] == [(0, i) for i in range(30)] + [(1, i) for i in range(20)] + [(2, i) for i in range(25)]
    takes = [project.resolve(shot.chosen().path) for shot in project.load().shots]
    assert copied_frames(path, takes) == 75  # every frame's packet is the take's own: nothing re-encoded
    with open(path, "rb") as handle:  # +faststart: the index comes before the media data
        head = handle.read(4096)
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


@pytest.mark.slow
def test_transitions_trims_and_fades_match_the_compositor(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(60, 40, 60), fade_in=6, fade_out=6)
    edit(project, 0, trim_in=5)
    edit(project, 1, transition=Transition("cross_dissolve", 8), trim_out=3)
    edit(project, 2, transition=Transition("dip_to_black", 6))
    board = project.load()
    path = export_board(project, "mp4")
    frames = read_video(path)
    assert len(frames) == int(ffprobe(path)["nb_read_frames"]) == board.total_frames == 55 + 37 - 8 + 60
    timeline = attach_media(build_timeline(board), project.resolve)
    recipes = frame_recipes(timeline)
    with Compositor(timeline) as compositor:
        for index in range(0, len(recipes), 3):
            expected = compositor.draw(recipes[index]).astype(int)
            assert np.abs(frames[index].astype(int) - expected).mean() < 4, f"frame {index}"
    assert identify(frames[10]) == (0, 15)  # trim_in 5
    assert frames[0].mean() < 3 and frames[-1].mean() < 3  # board fade in / out from and to black
    dip_black = board.shot_start_frames()[2]  # first frame of the incoming shot of a dip: all black
    assert frames[dip_black].mean() < 3


def test_edit_re_encodes_only_the_changed_shot(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12, 12))
    options = ExportOptions(burn_ins=frozenset({"shot", "timecode"}))
    export_board(project, "mp4", options=options)
    edit(project, 1, title="Changed")
    progress: list[str] = []
    export_board(project, "mp4", options=options, progress=lambda d, t, m: progress.append(m))
    cache = sorted((project.exports_dir / ".cache").glob("encode-*.mp4"))
    assert len(cache) == 4  # three shots, then only shot 2 again
    frames = read_video(project.exports_dir / "animatic.mp4")
    assert len(frames) == 36 and identify(frames[13]) == (1, 1)


def test_audio_is_offset_padded_and_cut_to_the_picture(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(24, 24))
    write_tone(tmp_path / "p" / "audio/tone.wav", seconds=5.0)
    project.update(lambda b: b.replace(audio=AudioTrack("audio/tone.wav", offset=12, fade_out=6)))
    path = export_board(project, "mp4")
    audio = ffprobe(path, "a:0")
    assert audio["codec_name"] == "aac" and audio["sample_rate"] == "48000"
    assert float(audio["duration"]) == pytest.approx(2.0, abs=1 / 24)
    with av.open(str(path)) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    loud = np.flatnonzero(np.abs(samples) > 0.1)
    assert loud[0] / 48000 == pytest.approx(12 / 24, abs=1 / 24)  # starts on frame 12, to the frame
    assert np.abs(samples[-200:]).max() < 0.05  # faded out at the end


def test_preview_is_small_and_complete(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12))
    path = export_board(project, "preview", options=ExportOptions(preview_width=80))
    info = ffprobe(path)
    assert path.name == "preview.mp4" and (info["width"], info["height"]) == ("80", "48") and int(info["nb_read_frames"]) == 24


def test_slate_for_missing_take_only_when_asked(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12, 12))
    (tmp_path / "p/takes/s1/t1.mp4").unlink()
    with pytest.raises(ExportError, match=r"shot 2 'Title 1'"):
        export_board(project, "mp4")
    assert not (project.exports_dir / "animatic.mp4").exists()
    path = export_board(project, "mp4", options=ExportOptions(use_slates=True))
    frames = read_video(path)
    assert len(frames) == 36 and identify(frames[30]) == (2, 6)
    assert abs(float(frames[18][5:90].mean()) - float(frames[2][5:90].mean())) > 5  # a card, not shot 1


@pytest.mark.parametrize("fmt,adapter", [("otio", None), ("edl", "cmx_3600"), ("fcpxml", "fcp_xml")])
def test_edit_exports_read_back_with_opentimelineio(tmp_path: Path, fmt: str, adapter: str | None) -> None:
    project = make_project(tmp_path / "p", durations=(30, 30, 30, 20))
    edit(project, 1, trim_in=4, transition=Transition("cross_dissolve", 6))
    edit(project, 3, takes=(), chosen_take=None)
    board = project.load()
    path = export_board(project, fmt)
    read = otio.adapters.read_from_file(str(path), rate=24) if fmt == "edl" else otio.adapters.read_from_file(str(path))
    track = read.video_tracks()[0]
    clips = list(track.find_clips())
    transitions = [item for item in track if isinstance(item, otio.schema.Transition)]
    assert len(clips) == 4 and read.duration().to_frames() == board.total_frames == 100
    assert [c.duration().to_frames() for c in clips] == [24, 26, 30, 20]
    assert clips[1].source_range.start_time.to_frames() == 4
    assert len(transitions) == 1 and transitions[0].out_offset.to_frames() == 6
    if fmt != "edl":
        assert clips[0].media_reference.target_url.endswith("takes/s0/t0.mp4")
    if fmt == "otio":
        meta = clips[0].metadata["previz"]
        assert (meta["prompt"], meta["seed"], meta["take_path"]) == ("prompt number 0", 100, "takes/s0/t0.mp4")
        assert meta["camera"][0]["move"] == "static"
        assert clips[3].media_reference.target_url == "slates/s3.mp4" and clips[3].metadata["previz"]["slate"] == "no take"
        assert clips[0].markers[0].name == "Shot 1 - Title 0"


@pytest.mark.parametrize("per_page", [2, 4, 6])
def test_pdf_storyboard_has_one_panel_per_shot(tmp_path: Path, per_page: int) -> None:
    project = make_project(tmp_path / "p", durations=(12,) * 7)
    path = export_board(project, "pdf", options=ExportOptions(per_page=per_page))
    reader = PdfReader(str(path))
    assert len(reader.pages) == -(-7 // per_page)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for index in range(7):
        assert text.count(f"SHOT {index + 1} - Title {index}") == 1
        assert f"prompt number {index}" in text and f"line {index}" in text and f"note {index}" in text
    assert len(reader.pages[0].images) == min(per_page, 7)


def test_csv_and_contact_sheet(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 24, 12))
    edit(project, 1, transition=Transition("cross_dissolve", 4))
    with open(export_board(project, "csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["shot_id"], int(r["start_frame"]), int(r["duration_frames"])) for r in rows] == [("s0", 0, 12), ("s1", 8, 24), ("s2", 32, 12)]
    assert rows[1]["transition"] == "cross_dissolve" and rows[2]["take_path"] == "takes/s2/t2.mp4" and rows[0]["seed"] == "100"
    sheet = Image.open(export_board(project, "contact"))
    assert sheet.format == "PNG" and sheet.width > W and sheet.height > H / 2


def test_bad_inputs_give_clear_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12,))
    (tmp_path / "p/audio").mkdir(exist_ok=True)
    (tmp_path / "p/audio/fake.wav").write_text("this is not audio")
    project.update(lambda b: b.replace(audio=AudioTrack("audio/fake.wav")))
    with pytest.raises(ExportError, match="fake.wav.*not a usable audio"):
        export_board(project, "mp4")
    project.update(lambda b: b.replace(audio=None))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot create the output folder"):
        export_board(project, "csv", out=blocker / "out.csv")
    with pytest.raises(ExportError, match="is a folder"):
        export_board(project, "csv", out=tmp_path)
    with pytest.raises(ExportError, match="unknown export format"):
        export_board(project, "webm")


def test_two_exports_to_one_name_at_once_give_whole_files(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(24, 24))
    out = tmp_path / "same.mp4"
    errors: list[BaseException] = []

    def export(burn: frozenset[str]) -> None:
        try:
            export_board(project, "mp4", out=out, options=ExportOptions(burn_ins=burn))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=export, args=(b,)) for b in (frozenset(), frozenset({"timecode"}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert int(ffprobe(out)["nb_read_frames"]) == 48 and len(read_video(out)) == 48
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_cli_export_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12))
    for fmt in EXPORT_FORMATS:
        assert studio_main(["export", str(project.root), "--format", fmt, "--burn-ins", "all"]) == 0
        assert Path(capsys.readouterr().out.strip()) == project.exports_dir / EXPORT_FORMATS[fmt]
    (tmp_path / "p/takes/s0/t0.mp4").unlink()
    assert studio_main(["export", str(project.root), "--format", "mp4"]) == 1
    assert "shot 1" in capsys.readouterr().err
    assert studio_main(["export", str(project.root), "--format", "mp4", "--use-slates"]) == 0
    # the slate standing in for the missing take is said, not silent
    assert "warning: shot 1" in capsys.readouterr().err
    assert studio_main(["export", str(project.root), "--format", "mp4", "--burn-ins", "shoe"]) == 1
    assert "unknown burn-in shoe" in capsys.readouterr().err


def test_cancel_leaves_no_output(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        export_board(project, "mp4", options=ExportOptions(burn_ins=frozenset({"timecode"})), cancel=cancel)
    assert not (project.exports_dir / "animatic.mp4").exists()
    assert not [p for p in project.exports_dir.iterdir() if "partial" in p.name]


def test_pdf_and_csv_carry_the_storyboard_fields(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12, 12))
    edit(project, 0, shot_size="MCU", angle="low", lens_mm=35.0, action="She climbs the stairs.",
         speaker="Mara", location="lighthouse", int_ext="INT", characters=("Mara", "Tom"))
    text = "\n".join(page.extract_text() for page in PdfReader(str(export_board(project, "pdf"))).pages)
    assert "MCU · low angle · 35 mm" in text and "INT. LIGHTHOUSE" in text
    assert "She climbs the stairs." in text and "MARA: line 0" in text
    with open(export_board(project, "csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first, second = rows
    assert (first["shot_size"], first["angle"], first["lens_mm"]) == ("MCU", "low", "35")
    assert (first["scene_heading"], first["characters"], first["speaker"]) == ("INT. LIGHTHOUSE", "Mara, Tom", "Mara")
    assert first["action"] == "She climbs the stairs."
    assert (second["shot_size"], second["lens_mm"], second["scene_heading"]) == ("", "", "")
