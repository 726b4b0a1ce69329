"""Screenplays in and out: Fountain and Final Draft (.fdx) read into one neutral :class:`Script`,
and a board's scenes written back as Fountain.

Reading Fountain uses ``fountain-py`` (FountainParser: typed elements with source line numbers,
dual dialogue, notes, boneyard, and diagnostics such as an unclosed ``/*`` with its line), plus
one small pass of our own that keeps inline ``[[notes]]``, which the parser strips from action
and dialogue lines. Final Draft is XML read with ``defusedxml`` (no entity expansion, no external
entities). Either reader raises :class:`ScriptError` naming the line, and reads only: deciding
what becomes a shot is studio.services.script_import's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_SCRIPT_BYTES = 5 * 1024 * 1024
"""A feature screenplay is about 200 KB; 5 MB is not a script."""
FOUNTAIN_SUFFIXES: tuple[str, ...] = (".fountain", ".spmd", ".txt")
FDX_SUFFIXES: tuple[str, ...] = (".fdx",)
_HEADING = re.compile(r"^(INT\.?/EXT\.?|EXT\.?/INT\.?|I/E\.?|INT\.?|EXT\.?|EST\.?)\s+(.*)$", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*\(([^)]*)\)\s*$")
_INLINE_NOTE = re.compile(r"\[\[(.*?)\]\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_FDX_PARAGRAPH_TAG = re.compile(r"<Paragraph[\s>/]")


class ScriptError(ValueError):
    """The file is not a screenplay this reader can use; the message names the line."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True)
class Speech:
    """One character's speech: name without extensions, parentheticals kept inline."""

    character: str
    text: str
    line: int
    extension: str = ""
    """(V.O.), (O.S.) ... as written, without the parentheses."""


@dataclass(frozen=True)
class Paragraph:
    """An action paragraph, or a dialogue block (one speech, or two spoken at once)."""

    kind: str
    """"action" or "dialogue"."""
    line: int
    text: str = ""
    speeches: tuple[Speech, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def dual(self) -> bool:
        return len(self.speeches) > 1


@dataclass(frozen=True)
class ScriptScene:
    heading: str
    line: int
    number: str = ""
    int_ext: str = ""
    location: str = ""
    time_of_day: str = ""
    synopsis: str = ""
    paragraphs: tuple[Paragraph, ...] = ()
    notes: tuple[str, ...] = ()
    """Notes that stand before any paragraph of the scene."""
    transition_out: str = ""
    """The transition written after the scene ("CUT TO:", "DISSOLVE TO:")."""


@dataclass(frozen=True)
class Script:
    title: str
    scenes: tuple[ScriptScene, ...]
    format: str
    """"fountain" or "fdx"."""
    warnings: tuple[str, ...] = ()

    @property
    def characters(self) -> tuple[str, ...]:
        """Speaking characters in order of first appearance."""
        seen: dict[str, None] = {}
        for scene in self.scenes:
            for paragraph in scene.paragraphs:
                for speech in paragraph.speeches:
                    seen.setdefault(speech.character, None)
        return tuple(seen)


def split_heading(heading: str) -> tuple[str, str, str]:
    """"INT. LIGHTHOUSE - NIGHT" -> ("INT", "LIGHTHOUSE", "NIGHT"); EST reads as EXT, I/E as INT/EXT."""
    text = " ".join(heading.split())
    match = _HEADING.match(text)
    int_ext = ""
    if match:
        prefix = match.group(1).upper().replace(".", "")
        int_ext = {"INT": "INT", "EXT": "EXT", "EST": "EXT"}.get(prefix, "INT/EXT")
        text = match.group(2)
    place, _, time_of_day = text.rpartition(" - ")
    if not place:
        place, time_of_day = time_of_day, ""
    return int_ext, place.strip(" .-"), time_of_day.strip()


def character_name(cue: str) -> tuple[str, str]:
    """"TOM (V.O.)" -> ("TOM", "V.O."); a trailing ^ (dual dialogue) is dropped."""
    name = cue.strip().rstrip("^").strip().lstrip("@")
    extension = ""
    while (match := _EXTENSION.search(name)) is not None:
        extension = match.group(1) if not extension else f"{match.group(1)}, {extension}"
        name = name[:match.start()]
    return " ".join(name.split()), extension


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM allowed); a bad byte or a control character is refused with its line."""
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptError(1, f"the file is {len(data) / 1e6:.1f} MB; a screenplay is at most {MAX_SCRIPT_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ScriptError(data[:error.start].count(b"\n") + 1,
                          f"byte 0x{data[error.start]:02x} is not UTF-8 text (save the script as UTF-8)") from None
    bad = _CONTROL.search(text)
    if bad is not None:
        raise ScriptError(text[:bad.start()].count("\n") + 1,
                          f"control character {bad.group()!r} (is this a binary file?)")
    return text


def read_script(data: bytes, name: str) -> Script:
    """Read a screenplay by its file name: .fdx is Final Draft, .fountain/.spmd/.txt Fountain."""
    lowered = name.lower()
    if lowered.endswith(FDX_SUFFIXES):
        return parse_fdx(data)
    if lowered.endswith(FOUNTAIN_SUFFIXES):
        return parse_fountain(decode(data))
    raise ScriptError(1, f"{name!r} is not a screenplay file; use .fountain (or .spmd, .txt) or Final Draft .fdx")


# --------------------------------------------------------------------------------------------
# Fountain


class _Builder:
    """Collects scenes and paragraphs in reading order (shared by both readers)."""

    def __init__(self) -> None:
        self.scenes: list[dict[str, Any]] = []

    def scene(self, heading: str, line: int, number: str = "") -> None:
        int_ext, location, time_of_day = split_heading(heading)
        self.scenes.append({"heading": " ".join(heading.split()), "line": line, "number": number,
                            "int_ext": int_ext, "location": location, "time_of_day": time_of_day,
                            "synopsis": "", "paragraphs": [], "notes": [], "transition_out": ""})

    def current(self, line: int) -> dict[str, Any]:
        if not self.scenes:  # content before the first heading: a scene with no heading
            self.scene("", line)
        return self.scenes[-1]

    def action(self, text: str, line: int) -> None:
        text = text.strip()
        if text:
            self.current(line)["paragraphs"].append({"kind": "action", "line": line, "text": text, "speeches": [], "notes": []})

    def speeches(self, speeches: list[Speech], line: int) -> None:
        self.current(line)["paragraphs"].append({"kind": "dialogue", "line": line, "text": "", "speeches": speeches, "notes": []})

    def end_speech(self, speech: dict[str, Any] | None) -> None:
        """A speech being read (name, parts, line, extension) as a dialogue paragraph; None: nothing."""
        if speech is not None:
            self.speeches([Speech(speech["name"], " ".join(speech["parts"]), speech["line"], speech["extension"])],
                          speech["line"])

    def note(self, text: str, line: int) -> None:
        text = " ".join(text.split())
        if not text:
            return
        before = [s for s in self.scenes if s["line"] <= line]
        scene = before[-1] if before else self.current(line)
        earlier = [p for p in scene["paragraphs"] if p["line"] <= line]
        (earlier[-1]["notes"] if earlier else scene["notes"]).append(text)

    def build(self, title: str, fmt: str, warnings: list[str]) -> Script:
        scenes = tuple(
            ScriptScene(
                heading=s["heading"], line=s["line"], number=s["number"], int_ext=s["int_ext"],
                location=s["location"], time_of_day=s["time_of_day"], synopsis=s["synopsis"],
                paragraphs=tuple(Paragraph(kind=p["kind"], line=p["line"], text=p["text"],
                                           speeches=tuple(p["speeches"]), notes=tuple(p["notes"]))
                                 for p in s["paragraphs"]),
                notes=tuple(s["notes"]), transition_out=s["transition_out"],
            )
            for s in self.scenes
        )
        if not any(scene.heading for scene in scenes):
            raise ScriptError(1, "no scene heading found (a line such as 'INT. KITCHEN - NIGHT'); "
                                 "is this a screenplay?")
        return Script(title=title, scenes=scenes, format=fmt, warnings=tuple(warnings))


def parse_fountain(text: str) -> Script:
    """A Fountain screenplay -> Script; ScriptError (with the line) for an unclosed boneyard or note."""
    from fountain import ElementType, FountainParser

    document = FountainParser().parse(text)
    errors = [issue for issue in document.issues if issue.severity == "error"]
    if errors:
        first = min(errors, key=lambda issue: issue.line_number)
        raise ScriptError(first.line_number, first.message)
    warnings = [f"line {issue.line_number}: {issue.message}" for issue in document.issues]
    builder = _Builder()
    speech: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal speech
        builder.end_speech(speech)
        speech = None

    def column(elements: list[Any]) -> Speech:
        cue, *rest = elements
        name, extension = character_name(cue.text)
        return Speech(name, " ".join(e.text.strip() for e in rest if e.text.strip()), cue.line_number,
                      str(cue.metadata.get("extension") or extension))

    for element in document.elements:
        kind, line = element.type, element.line_number
        if kind in (ElementType.DIALOGUE, ElementType.PARENTHETICAL, ElementType.LYRICS) and speech is not None:
            speech["parts"].append(element.text.strip())
            continue
        flush()
        if kind == ElementType.SCENE_HEADING:
            builder.scene(element.text, line, str(element.metadata.get("scene_number") or ""))
        elif kind == ElementType.CHARACTER:
            name, extension = character_name(element.text)
            speech = {"name": name, "extension": str(element.metadata.get("extension") or extension),
                      "parts": [], "line": line}
        elif kind == ElementType.DUAL_DIALOGUE:
            left, right = element.dual_dialogue_columns()
            builder.speeches([column(left), column(right)], left[0].line_number)
        elif kind in (ElementType.ACTION, ElementType.CENTERED, ElementType.LYRICS, ElementType.DIALOGUE,
                      ElementType.PARENTHETICAL):
            builder.action(element.text, line)
        elif kind == ElementType.SYNOPSIS and builder.scenes:
            scene = builder.scenes[-1]
            scene["synopsis"] = (scene["synopsis"] + " " + element.text.strip()).strip()
        elif kind == ElementType.TRANSITION and builder.scenes:
            builder.scenes[-1]["transition_out"] = element.text.strip()
        elif kind == ElementType.NOTE:
            builder.note(_INLINE_NOTE.sub(lambda m: m.group(1), element.text).strip("[] \n"), line)
    flush()
    for number, raw in enumerate(text.splitlines(), start=1):  # notes inside action and dialogue lines
        if raw.strip().startswith("[[") and raw.strip().endswith("]]"):
            continue  # a whole-line note: the parser made it a NOTE element
        for match in _INLINE_NOTE.finditer(raw):
            builder.note(match.group(1), number)
    return builder.build(str(document.metadata.get("title", "")).strip(), "fountain", warnings)


# --------------------------------------------------------------------------------------------
# Final Draft


def _fdx_text(paragraph: Any) -> str:
    return "".join("".join(text.itertext()) for text in paragraph.findall("Text")).strip()


def parse_fdx(data: bytes) -> Script:
    """A Final Draft .fdx (XML) -> Script; ScriptError names the line of bad XML or a bad paragraph."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = decode(data)
    try:
        root = fromstring(data)
    except ParseError as error:
        raise ScriptError(error.position[0], f"not well-formed XML ({error.msg if hasattr(error, 'msg') else error})") from None
    except DefusedXmlException as error:
        raise ScriptError(1, f"refused: {error}") from None
    if root.tag != "FinalDraft":
        raise ScriptError(1, f"not a Final Draft file: the root element is <{root.tag}>, expected <FinalDraft>")
    content = root.find("Content")
    if content is None:
        raise ScriptError(1, "a Final Draft file needs a <Content> element with the script's paragraphs")
    tag_lines = [text[:m.start()].count("\n") + 1 for m in _FDX_PARAGRAPH_TAG.finditer(re.sub(r"<!--.*?-->", lambda m: "\n" * m.group().count("\n"), text, flags=re.DOTALL))]
    order = {id(element): index for index, element in enumerate(root.iter("Paragraph"))}

    def line_of(element: Any) -> int:
        index = order[id(element)]
        return tag_lines[index] if index < len(tag_lines) else 1

    builder = _Builder()
    speech: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal speech
        builder.end_speech(speech)
        speech = None

    def read_dual(block: Any) -> list[Speech]:
        result: list[Speech] = []
        for paragraph in block.findall("Paragraph"):
            kind, line = paragraph.get("Type"), line_of(paragraph)
            if kind == "Character":
                name, extension = character_name(_fdx_text(paragraph))
                result.append(Speech(name, "", line, extension))
            elif kind in ("Dialogue", "Parenthetical"):
                if not result:
                    raise ScriptError(line, f"{kind.lower()} in a dual-dialogue block with no character before it")
                last = result[-1]
                result[-1] = Speech(last.character, f"{last.text} {_fdx_text(paragraph)}".strip(), last.line, last.extension)
        if len(result) != 2:
            raise ScriptError(line_of(block.find("Paragraph")) if block.find("Paragraph") is not None else 1,
                              f"a dual-dialogue block needs two characters, found {len(result)}")
        return result

    for paragraph in content.findall("Paragraph"):
        kind, line = paragraph.get("Type"), line_of(paragraph)
        dual = paragraph.find("DualDialogue")
        if dual is not None:
            flush()
            builder.speeches(read_dual(dual), line)
            continue
        if kind is None:
            raise ScriptError(line, "a <Paragraph> with no Type attribute (expected Scene Heading, Action, Character...)")
        body = _fdx_text(paragraph)
        if kind in ("Dialogue", "Parenthetical"):
            if speech is None:
                raise ScriptError(line, f"{kind.lower()} with no character before it")
            speech["parts"].append(body)
            continue
        flush()
        if kind == "Scene Heading":
            builder.scene(body, line, paragraph.get("Number") or "")
            summary = paragraph.find("SceneProperties/Summary")
            if summary is not None:
                builder.scenes[-1]["synopsis"] = " ".join(_fdx_text(p) for p in summary.findall("Paragraph")).strip()
        elif kind == "Character":
            name, extension = character_name(body)
            if not name:
                raise ScriptError(line, "a Character paragraph with no name")
            speech = {"name": name, "extension": extension, "parts": [], "line": line}
        elif kind == "Transition":
            if builder.scenes:
                builder.scenes[-1]["transition_out"] = body
        elif kind in ("Action", "General", "Shot", "Cast List"):
            builder.action(body, line)
        else:
            builder.action(body, line)
    flush()
    title = ""
    for paragraph in root.findall("TitlePage/Content/Paragraph"):
        title = _fdx_text(paragraph)
        if title:
            break
    return builder.build(title, "fdx", [])


# --------------------------------------------------------------------------------------------
# Writing Fountain


@dataclass(frozen=True)
class FountainShot:
    """One shot as the breakdown shows it: its note line, action and speeches."""

    note: str
    action: str = ""
    speeches: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FountainScene:
    heading: str
    number: str = ""
    synopsis: str = ""
    shots: tuple[FountainShot, ...] = field(default_factory=tuple)


def _escape_note(text: str) -> str:
    return " ".join(text.replace("[[", "[ [").replace("]]", "] ]").split())


def write_fountain(title: str, scenes: list[FountainScene], extra: list[FountainShot]) -> str:
    """A Fountain script: each scene's heading (with its number), synopsis, and every shot as a
    [[note]] followed by its action and dialogue; shots outside any scene close the script."""
    out = [f"Title: {' '.join(title.split()) or 'Untitled'}", "Credit: Shot breakdown from Previz Studio", ""]
    def shots(items: tuple[FountainShot, ...] | list[FountainShot]) -> None:
        for shot in items:
            out.extend([f"[[{_escape_note(shot.note)}]]", ""])
            if shot.action:
                out.extend(["!" + shot.action.strip().replace("\n", "\n!") if shot.action.strip().isupper()
                            else shot.action.strip(), ""])
            for character, text in shot.speeches:
                out.extend([f"@{character}" if not character.isupper() else character, *_speech_lines(text), ""])
    for scene in scenes:
        heading = " ".join(scene.heading.split()) or "SCENE"
        if not _HEADING.match(heading):
            heading = "." + heading
        out.extend([heading + (f" #{scene.number}#" if scene.number else ""), ""])
        if scene.synopsis:
            out.extend([f"= {' '.join(scene.synopsis.split())}", ""])
        shots(scene.shots)
    if extra:
        out.extend(["# Shots outside any scene", ""])
        shots(extra)
    return "\n".join(out).rstrip() + "\n"


def _speech_lines(text: str) -> list[str]:
    """Parentheticals on their own lines, as Fountain writes them."""
    lines: list[str] = []
    for part in re.split(r"(\([^)]*\))", " ".join(text.split())):
        part = part.strip()
        if part:
            lines.append(part)
    return lines or ["..."]
