"""Drawn panels: layers saved into a shot, flattened into its keyframe, and round trips with
painting programs (OpenRaster .ora for Krita, GIMP and MyPaint; layered Photoshop .psd).

A panel is a stack of RGBA layers, back to front, each at a depth from the camera (the animatic
films each layer as its own plane, so a truck or dolly past it has parallax). Saving a panel
stores one PNG per layer and the flattened picture under ``keyframes/`` (content-hashed, written
atomically), then records the panel on the shot and, unless told otherwise, makes the flattened
picture the shot's keyframe of the panel's role (first, last or mid): one undoable edit.

Layer pictures from anywhere (the browser canvas, an .ora or .psd, a flat image) are decoded by
studio.images (bombs and non-images refused) and placed on one canvas the size of the first
layer, at the board's aspect ratio; an archive's members are size-checked before they are read.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from studio.board import KEYFRAME_ROLES, LAYER_DEPTH_RANGE, MAX_LAYERS, Board, Keyframe, Layer, Panel, Shot
from studio.common import write_atomic
from studio.images import MAX_BYTES, MAX_PIXELS, ImageError, load_rgb, load_rgba
from studio.services.edits import apply_change
from studio.services.fields import FieldError
from studio.storage import Project

DEFAULT_LAYERS: tuple[tuple[str, float], ...] = (("background", 2.0), ("midground", 1.0), ("foreground", 0.6))
"""The layers a new drawing starts with: far, mid and near (depths in keyframe-plane distances)."""
PAPER = (255, 255, 255)
"""What the layers are flattened onto (a drawn panel's paper)."""
ORA_MIMETYPE = b"image/openraster"
ORA_NAMESPACE = "https://github.com/previz-studio/ora"
"""Our own stack.xml attribute namespace (layer depth); painting programs keep or ignore it."""
FORMATS: tuple[str, ...] = ("ora", "psd")
MAX_ARCHIVE_MEMBERS = 4 * MAX_LAYERS + 16


@dataclass(frozen=True)
class LayerPixels:
    """One layer in memory: straight-alpha RGBA uint8 (H, W, 4) and how it is shown."""

    name: str
    rgba: np.ndarray
    depth: float = 1.0
    visible: bool = True
    opacity: float = 1.0


class PanelError(FieldError):
    """A panel or a layered file cannot be used; the message names the layer or file."""

    def __init__(self, message: str) -> None:
        super().__init__("panel", message)


# --------------------------------------------------------------------------------------------
# Pixels


def default_depths(count: int) -> list[float]:
    """Far to near for ``count`` layers with no depth of their own (2 at the back, 0.6 in front)."""
    if count == 1:
        return [1.0]
    far, near = 2.0, 0.6
    return [round(1.0 / (1.0 / far + (1.0 / near - 1.0 / far) * i / (count - 1)), 3) for i in range(count)]


def flatten(layers: Sequence[LayerPixels], paper: tuple[int, int, int] = PAPER) -> np.ndarray:
    """The visible layers composited back to front over ``paper``: RGB uint8, what the panel shows."""
    if not layers:
        raise PanelError("a panel needs at least one layer")
    height, width = layers[0].rgba.shape[:2]
    out = np.empty((height, width, 3), np.float32)
    out[:] = np.asarray(paper, np.float32)
    for layer in layers:
        if not layer.visible or layer.opacity <= 0:
            continue
        alpha = layer.rgba[..., 3:4].astype(np.float32) * np.float32(layer.opacity / 255.0)
        out += (layer.rgba[..., :3].astype(np.float32) - out) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _check_layers(layers: Sequence[LayerPixels]) -> list[LayerPixels]:
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise PanelError(f"a panel has 1 to {MAX_LAYERS} layers, got {len(layers)}")
    size = layers[0].rgba.shape[:2]
    checked = []
    for index, layer in enumerate(layers):
        if not (isinstance(layer.rgba, np.ndarray) and layer.rgba.dtype == np.uint8 and layer.rgba.ndim == 3
                and layer.rgba.shape[2] == 4):
            raise PanelError(f"layer {index + 1} ({layer.name!r}) must be RGBA uint8 pixels")
        if layer.rgba.shape[:2] != size:
            raise PanelError(f"layer {index + 1} ({layer.name!r}) is {layer.rgba.shape[1]}x{layer.rgba.shape[0]}, "
                             f"the first layer {size[1]}x{size[0]}: every layer of a panel has the same size")
        try:  # the model's rules for name, depth and opacity, with the layer named
            Layer(name=layer.name, path="keyframes/check.png", depth=layer.depth, visible=layer.visible,
                  opacity=layer.opacity)
        except ValueError as error:
            raise PanelError(f"layer {index + 1} ({layer.name!r}): {error}") from None
        checked.append(layer)
    names = [layer.name.strip().casefold() for layer in layers]
    if len(set(names)) != len(names):
        raise PanelError(f"layer names must be unique in a panel, got {[layer.name for layer in layers]}")
    return checked


def fit_to_board(layers: Sequence[LayerPixels], board: Board) -> list[LayerPixels]:
    """Pad every layer (transparent) to the board's aspect ratio, centred, so the panel is filmed
    as drawn; a canvas already at that aspect is untouched."""
    height, width = layers[0].rgba.shape[:2]
    target_w = max(width, round(height * board.width / board.height))
    target_h = max(height, round(width * board.height / board.width))
    if abs(target_w / target_h - board.width / board.height) < 0.01 * board.width / board.height and \
            (target_w, target_h) == (width, height):
        return list(layers)
    x0, y0 = (target_w - width) // 2, (target_h - height) // 2
    padded = []
    for layer in layers:
        canvas = np.zeros((target_h, target_w, 4), np.uint8)
        canvas[y0:y0 + height, x0:x0 + width] = layer.rgba
        padded.append(replace(layer, rgba=canvas))
    return padded


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _store(project: Project, pixels: np.ndarray) -> str:
    """A PNG under keyframes/, named by its content, written atomically; returns its path."""
    data = _png(pixels)
    project.keyframes_dir.mkdir(exist_ok=True)
    target = project.resolve(f"keyframes/{hashlib.sha256(data).hexdigest()[:32]}.png", "panel layer")
    if not target.exists():
        write_atomic(target, data)
    return project.relative(target)


# --------------------------------------------------------------------------------------------
# The board


def _slot(shot: Shot, role: str, frame: int) -> tuple[str, int]:
    if role not in KEYFRAME_ROLES:
        raise PanelError(f"role must be one of {', '.join(KEYFRAME_ROLES)}, got {role!r}")
    if isinstance(frame, bool) or not isinstance(frame, int) or not 0 <= frame < shot.duration:
        raise PanelError(f"frame must be a frame of the shot (0..{shot.duration - 1}), got {frame!r}")
    return role, {"first": 0, "last": shot.duration - 1}.get(role, frame)


def save_panel(project: Project, shot_id: str, layers: Sequence[LayerPixels], role: str = "first",
               frame: int = 0, *, keyframe: bool = True, actor: str = "", label: str = "draw panel",
               flat: np.ndarray | None = None) -> Board:
    """Store the layers and their flattened picture, and record the panel on the shot (replacing
    the one of the same role, or the mid one at the same frame). With ``keyframe`` the flattened
    picture becomes the shot's keyframe of that role. ``flat`` is the picture to keep as the
    flattened panel instead of the composite (a depth split keeps the original photo)."""
    board = project.load()
    layers = fit_to_board(_check_layers(layers), board)
    paths = [_store(project, layer.rgba) for layer in layers]
    picture = flatten(layers) if flat is None else flat
    flat_path = _store(project, np.ascontiguousarray(picture[..., :3]))
    stored = tuple(Layer(name=layer.name.strip(), path=path, depth=layer.depth, visible=layer.visible,
                         opacity=layer.opacity) for layer, path in zip(layers, paths))

    def edit(board: Board) -> Board:
        shot = board.shot(shot_id)
        slot_role, at = _slot(shot, role, frame)
        panel = Panel(role=slot_role, flat=flat_path, layers=stored, frame=at if slot_role == "mid" else 0)
        kept = tuple(p for p in shot.panels if (p.role, p.frame) != (panel.role, panel.frame))
        shot = shot.replace(panels=kept + (panel,))
        if keyframe:
            shot = shot.with_keyframe(Keyframe(role=slot_role, path=flat_path, frame=at))
        return board.with_shot(shot)

    return apply_change(project, edit, actor, label)


def find_panel(shot: Shot, role: str = "first", frame: int = 0) -> Panel:
    panel = shot.panel(role, frame)
    if panel is None:
        where = f"mid panel at frame {frame}" if role == "mid" else f"{role} panel"
        raise PanelError(f"shot {shot.id} has no {where}")
    return panel


def load_layers(project: Project, panel: Panel) -> list[LayerPixels]:
    """A stored panel's layers as pixels (decoded with the same checks as any image)."""
    layers = []
    for layer in panel.layers:
        try:
            rgba = load_rgba(project.resolve(layer.path, "panel layer"), max_side=None)
        except (ImageError, OSError) as error:
            raise PanelError(f"layer {layer.name!r} ({layer.path}): {error}") from None
        layers.append(LayerPixels(layer.name, rgba, layer.depth, layer.visible, layer.opacity))
    return layers


def update_layers(project: Project, shot_id: str, changes: Sequence[Mapping[str, Any]], role: str = "first",
                  frame: int = 0, actor: str = "") -> Board:
    """Change the depth, visibility or opacity of a stored panel's layers, named in ``changes``
    ({"name": ..., "depth": ..., "visible": ..., "opacity": ...}); a change of what shows
    re-flattens the panel."""
    board = project.load()
    panel = find_panel(board.shot(shot_id), role, frame)
    by_name = {layer.name: layer for layer in panel.layers}
    wanted: dict[str, dict[str, Any]] = {}
    for change in changes:
        if not isinstance(change, Mapping) or change.get("name") not in by_name:
            raise PanelError(f"no layer named {_shown_name(change)} in the panel; layers: {list(by_name)}")
        unknown = set(change) - {"name", "depth", "visible", "opacity"}
        if unknown:
            raise PanelError(f"layer {change['name']!r}: unknown setting(s) {sorted(unknown)}")
        wanted[change["name"]] = {key: value for key, value in change.items() if key != "name"}
    pixels = [replace(layer, **wanted.get(layer.name, {})) for layer in load_layers(project, panel)]
    shows_same = all(not ({"visible", "opacity"} & set(wanted.get(layer.name, {}))) for layer in panel.layers)
    flat = load_rgb(project.resolve(panel.flat)) if shows_same else None
    return save_panel(project, shot_id, pixels, panel.role, panel.frame if panel.role == "mid" else 0,
                      keyframe=any(k.path == panel.flat for k in board.shot(shot_id).keyframes),
                      actor=actor, label="layer settings", flat=flat)


def _shown_name(change: Any) -> str:
    name = change.get("name") if isinstance(change, Mapping) else change
    return repr(name)[:80]


def discard_panel(project: Project, shot_id: str, role: str = "first", frame: int = 0, actor: str = "") -> Board:
    """Forget a panel's layers (its flattened picture stays the keyframe if it is one): the
    animatic films the keyframe as one flat plane again. Files stay for undo."""
    def edit(board: Board) -> Board:
        shot = board.shot(shot_id)
        panel = find_panel(shot, role, frame)
        return board.with_shot(shot.replace(panels=tuple(p for p in shot.panels if p is not panel)))

    return apply_change(project, edit, actor, "discard layers")


# --------------------------------------------------------------------------------------------
# Files: OpenRaster, Photoshop, flat images


def read_layers(data: bytes, filename: str) -> list[LayerPixels]:
    """Layers from a file a painting program wrote: .ora, .psd, or any flat image (one layer)."""
    suffix = Path(filename).suffix.lower()
    if len(data) > MAX_BYTES:
        raise PanelError(f"{filename}: {len(data) / 2**20:.1f} MiB is more than the {MAX_BYTES // 2**20} MiB limit")
    if suffix == ".ora":
        return read_ora(data, filename)
    if suffix == ".psd":
        return read_psd(data, filename)
    try:
        return [LayerPixels("background", load_rgba(data), 1.0)]
    except ImageError as error:
        raise PanelError(f"{filename}: {error}") from None


def _place(pixels: np.ndarray, width: int, height: int, x: int, y: int) -> np.ndarray:
    """A layer's pixels at (x, y) on a transparent canvas (parts outside it cut off)."""
    canvas = np.zeros((height, width, 4), np.uint8)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + pixels.shape[1]), min(height, y + pixels.shape[0])
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = pixels[y0 - y:y1 - y, x0 - x:x1 - x]
    return canvas


def _canvas_size(width: Any, height: Any, filename: str) -> tuple[int, int]:
    try:
        width, height = int(width), int(height)
    except (TypeError, ValueError):
        raise PanelError(f"{filename}: the canvas size is missing or not a number") from None
    if not (16 <= width and 16 <= height and width * height <= MAX_PIXELS):
        raise PanelError(f"{filename}: a {width}x{height} canvas is outside 16 px .. {MAX_PIXELS // 10**6} megapixels")
    return width, height


def read_ora(data: bytes, filename: str = "panel.ora") -> list[LayerPixels]:
    """The layers of an OpenRaster file, back to front (nested stacks flattened in order)."""
    from defusedxml import ElementTree

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PanelError(f"{filename}: not an OpenRaster file (not a zip archive)") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise PanelError(f"{filename}: {len(members)} files inside; an .ora panel has at most {MAX_ARCHIVE_MEMBERS}")

        def read(name: str) -> bytes:
            info = members.get(name)
            if info is None:
                raise PanelError(f"{filename}: {name} is missing")
            if info.file_size > MAX_BYTES:
                raise PanelError(f"{filename}: {name} unpacks to {info.file_size / 2**20:.0f} MiB, more than the limit")
            return archive.read(info)

        if "mimetype" in members and read("mimetype").strip() != ORA_MIMETYPE:
            raise PanelError(f"{filename}: its mimetype is not {ORA_MIMETYPE.decode()}")
        try:
            root = ElementTree.fromstring(read("stack.xml"))
        except Exception as error:  # noqa: BLE001 - defusedxml raises several kinds for bad XML
            raise PanelError(f"{filename}: stack.xml cannot be read ({error})") from None
        width, height = _canvas_size(root.get("w"), root.get("h"), filename)
        found: list[Any] = []

        def walk(stack: Any, hidden: bool) -> None:
            for element in stack:  # stack.xml lists the top layer first
                if element.tag == "stack":
                    walk(element, hidden or element.get("visibility") == "hidden")
                elif element.tag == "layer":
                    found.append((element, hidden))
        stack = root.find("stack")
        if stack is None:
            raise PanelError(f"{filename}: stack.xml has no <stack>")
        walk(stack, False)
        if not 1 <= len(found) <= MAX_LAYERS:
            raise PanelError(f"{filename}: {len(found)} layers; a panel has 1 to {MAX_LAYERS}")
        depths = default_depths(len(found))
        layers = []
        for index, (element, hidden) in enumerate(reversed(found)):
            name = (element.get("name") or f"layer {index + 1}").strip() or f"layer {index + 1}"
            source = element.get("src") or ""
            packed = read(source)
            try:
                pixels = load_rgba(packed, max_side=None, min_side=1)
                x, y = int(float(element.get("x", 0))), int(float(element.get("y", 0)))
                opacity = float(element.get("opacity", 1.0))
                depth = float(element.get(f"{{{ORA_NAMESPACE}}}depth", depths[index]))
            except ImageError as error:
                raise PanelError(f"{filename}: layer {name!r} ({source}): {error}") from None
            except ValueError:
                raise PanelError(f"{filename}: layer {name!r} has a position, opacity or depth that is not a number") from None
            layers.append(LayerPixels(_unique(name, layers), _place(pixels, width, height, x, y),
                                      depth=_clamp_depth(depth), visible=not hidden and element.get("visibility") != "hidden",
                                      opacity=min(1.0, max(0.0, opacity))))
    return layers


def _clamp_depth(depth: float) -> float:
    if not math.isfinite(depth):
        return 1.0
    return min(LAYER_DEPTH_RANGE[1], max(LAYER_DEPTH_RANGE[0], depth))


def _unique(name: str, taken: Sequence[LayerPixels]) -> str:
    names = {layer.name.casefold() for layer in taken}
    candidate, number = name[:200], 2
    while candidate.casefold() in names:
        candidate, number = f"{name[:190]} {number}", number + 1
    return candidate


def write_ora(layers: Sequence[LayerPixels], flat: np.ndarray | None = None) -> bytes:
    """An OpenRaster file: mimetype first and stored, stack.xml (top layer first, our depth in
    its own namespace), one PNG per layer, mergedimage.png and a thumbnail."""
    from xml.sax.saxutils import quoteattr

    layers = _check_layers(layers)
    height, width = layers[0].rgba.shape[:2]
    merged = flatten(layers) if flat is None else flat
    entries = []
    for index, layer in reversed(list(enumerate(layers))):
        entries.append(
            f'    <layer name={quoteattr(layer.name)} src="data/layer{index}.png" x="0" y="0" '
            f'opacity="{layer.opacity:.4f}" visibility="{"visible" if layer.visible else "hidden"}" '
            f'composite-op="svg:src-over" previz:depth="{layer.depth:g}"/>')
    stack = (f'<?xml version="1.0" encoding="UTF-8"?>\n<image version="0.0.5" w="{width}" h="{height}" '
             f'xmlns:previz="{ORA_NAMESPACE}">\n  <stack>\n' + "\n".join(entries) + "\n  </stack>\n</image>\n")
    thumbnail = Image.fromarray(merged)
    thumbnail.thumbnail((256, 256))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ORA_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("stack.xml", stack, compress_type=zipfile.ZIP_DEFLATED)
        for index, layer in enumerate(layers):
            archive.writestr(f"data/layer{index}.png", _png(layer.rgba), compress_type=zipfile.ZIP_STORED)
        archive.writestr("mergedimage.png", _png(merged), compress_type=zipfile.ZIP_STORED)
        archive.writestr("Thumbnails/thumbnail.png", _png(np.asarray(thumbnail)), compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def read_psd(data: bytes, filename: str = "panel.psd") -> list[LayerPixels]:
    """The pixel layers of a Photoshop file, back to front (groups flattened in order; a layer
    hidden by its group is hidden). Depths are not part of PSD: far to near by position."""
    from psd_tools import PSDImage

    try:
        psd = PSDImage.open(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - psd-tools raises many kinds for a bad file
        raise PanelError(f"{filename}: not a readable Photoshop file ({error})") from None
    width, height = _canvas_size(psd.width, psd.height, filename)
    picked = [layer for layer in psd.descendants() if not layer.is_group() and layer.has_pixels()]
    if len(picked) > MAX_LAYERS:
        raise PanelError(f"{filename}: {len(picked)} layers; a panel has 1 to {MAX_LAYERS}")
    layers: list[LayerPixels] = []
    try:
        if not picked:  # a flat PSD: its composite is the one layer
            composite = psd.composite()
            return [LayerPixels("background", np.asarray(composite.convert("RGBA"), np.uint8).copy(), 1.0)]
        depths = default_depths(len(picked))
        for index, layer in enumerate(picked):
            image = layer.topil()
            if image is None:
                continue
            pixels = np.asarray(image.convert("RGBA"), np.uint8)
            layers.append(LayerPixels(_unique((layer.name or f"layer {index + 1}").strip() or f"layer {index + 1}", layers),
                                      _place(pixels, width, height, layer.left, layer.top), depth=depths[index],
                                      visible=layer.is_visible(), opacity=layer.opacity / 255.0))
    except PanelError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged channel surfaces while decoding
        raise PanelError(f"{filename}: a layer cannot be decoded ({error})") from None
    return layers


def write_psd(layers: Sequence[LayerPixels]) -> bytes:
    """A layered Photoshop file (8-bit RGBA, one pixel layer per panel layer, names, visibility
    and opacity kept)."""
    from psd_tools import PSDImage
    from psd_tools.api.layers import PixelLayer

    layers = _check_layers(layers)
    height, width = layers[0].rgba.shape[:2]
    psd = PSDImage.new("RGBA", (width, height))  # RGB documents drop each layer's transparency
    for layer in layers:
        pixel_layer = PixelLayer.frompil(Image.fromarray(layer.rgba), psd, layer.name, 0, 0)
        pixel_layer.visible = layer.visible
        pixel_layer.opacity = round(layer.opacity * 255)
        psd.append(pixel_layer)
    buffer = io.BytesIO()
    psd.save(buffer)
    return buffer.getvalue()


def import_file(project: Project, shot_id: str, data: bytes, filename: str, role: str = "first", frame: int = 0,
                *, keyframe: bool = True, actor: str = "") -> Board:
    """A painting program's file (or a flat image) as the shot's panel of ``role``, layers and
    names kept."""
    return save_panel(project, shot_id, read_layers(data, filename), role, frame, keyframe=keyframe,
                      actor=actor, label=f"import panel {Path(filename).name}")


def export_panel(project: Project, shot_id: str, fmt: str, role: str = "first", frame: int = 0) -> bytes:
    """A stored panel as an .ora or .psd file's bytes."""
    if fmt not in FORMATS:
        raise PanelError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    panel = find_panel(project.load().shot(shot_id), role, frame)
    layers = load_layers(project, panel)
    return write_ora(layers) if fmt == "ora" else write_psd(layers)


def export_panel_file(project: Project, shot_id: str, fmt: str, role: str = "first", frame: int = 0) -> Path:
    """The panel written to exports/panel-<shot>-<role>.<fmt> (atomically); returns the file."""
    content = export_panel(project, shot_id, fmt, role, frame)
    suffix = f"-{frame}" if role == "mid" else ""
    project.exports_dir.mkdir(exist_ok=True)
    target = project.resolve(f"exports/panel-{shot_id}-{role}{suffix}.{fmt}", "export")
    write_atomic(target, content)
    return target
