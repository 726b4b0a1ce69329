"""The Draw tab of the shot inspector: a layered drawing canvas in one ``gr.HTML`` component.

Why a script of its own: drawing is thousands of pointer events that must never reach the
server. The script owns a <canvas> per layer (brush with size, colour and opacity; eraser; fill;
undo; layers added, renamed, reordered, hidden, each at a depth), an onion skin (the previous
panel, and the previous shot's last frame when continuity is on) and image import as a layer.
Only a finished action crosses over, as one ``click`` event whose data names it:

- ``save``: role, frame, whether the flattened panel becomes the keyframe, and each layer's
  name, depth, visibility, opacity and pixels (a PNG data URL);
- ``export`` (``ora`` or ``psd``) and ``split`` / ``discard`` (see services/depth_split.py).

The server sends the selected shot's panels (layers as PNG data URLs: nothing is served from
the project folder) and the onion pictures as this component's value; the template never
changes, so Gradio never rebuilds the canvas, and the script reloads it only when the shot or
its panels changed (a value with a new ``sig``). The page's 1 s poll sends a new value when
another tab changed the shot's panels (:func:`poll_hook`); the script loads it at once unless
the canvas has strokes that are not saved, and then says so and waits for "Load the saved panel".
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np

from studio.board import Board, Shot
from studio.storage import Project, ProjectError

MAX_LAYER_BYTES = 20 * 1024 * 1024
"""A layer's PNG as the browser sends it (a board-size RGBA PNG is well under this)."""
ONION_SIDE = 832
"""Onion pictures are sent as JPEGs no larger than this on their long side."""


class DrawingPanel:
    """The widgets of the Draw tab; build inside the inspector's tab."""

    def __init__(self) -> None:
        self.canvas = gr.HTML(json.dumps({"sig": ""}), html_template=TEMPLATE, css_template=CSS, js_on_load=JS, elem_id="draw")
        with gr.Row():
            with gr.Column(min_width=120, scale=0):
                self.import_role = gr.Radio(["first", "mid", "last"], value="first", label="Import as panel",
                                            elem_id="draw-import-role")
                self.import_frame = gr.Number(0, label="mid panel's frame", precision=0, minimum=0,
                                              elem_id="draw-import-frame")
            self.upload = gr.File(label="Import a panel (.ora, .psd or an image)",
                                  file_types=[".ora", ".psd", "image"], type="filepath", elem_id="draw-import",
                                  height=80)
            self.download = gr.File(label="Exported panel", interactive=False, elem_id="draw-export", height=80)
        self.status = gr.Markdown("", elem_id="draw-status")

    @property
    def outputs(self) -> list[Any]:
        return [self.canvas, self.upload, self.download, self.status]


# --------------------------------------------------------------------------------------------
# The value: the shot's panels and onion pictures


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _jpeg_url(pixels: np.ndarray) -> str:
    import cv2

    height, width = pixels.shape[:2]
    factor = min(1.0, ONION_SIDE / max(width, height))
    if factor < 1.0:
        pixels = cv2.resize(pixels, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return _data_url(encoded.tobytes(), "image/jpeg") if ok else ""


def _picture(project: Project, path: str) -> str:
    """A keyframe or layer PNG of the project as a data URL ("" when it cannot be read)."""
    try:
        return _data_url(project.resolve(path).read_bytes())
    except (ProjectError, OSError):
        return ""


def _onion(project: Project, path: str) -> str:
    """A picture to trace over, as a JPEG data URL at most ONION_SIDE pixels wide ("" when it
    cannot be read): an uploaded keyframe may be a 4K PNG, and the page is sent it on every select."""
    from PIL import Image

    try:
        with Image.open(project.resolve(path)) as opened:
            opened.draft("RGB", (ONION_SIDE, ONION_SIDE))
            return _jpeg_url(np.asarray(opened.convert("RGB")))
    except (ProjectError, OSError, ValueError, Image.DecompressionBombError):
        return ""


def drawing_value(project: Project, board: Board, shot: Shot | None) -> str:
    """What the script draws from, as JSON text (the page clones an object value on every update,
    a string it passes through; studio/ui/wall.py): the board's frame size, the shot's panels (per
    role, layers as data URLs) and the onion pictures."""
    if shot is None:
        return json.dumps({"sig": "none", "shot": None})
    index = board.index_of(shot.id)
    previous = board.shots[index - 1] if index > 0 else None
    panels = {}
    for panel in shot.panels:
        key = panel.role if panel.role != "mid" else f"mid@{panel.frame}"
        panels[key] = {"role": panel.role, "frame": panel.frame, "flat": _picture(project, panel.flat),
                       "keyframe": any(k.path == panel.flat for k in shot.keyframes),
                       "layers": [{"name": layer.name, "depth": layer.depth, "visible": layer.visible,
                                   "opacity": layer.opacity, "src": _picture(project, layer.path)}
                                  for layer in panel.layers]}
    onion: dict[str, str] = {}
    first = shot.keyframe("first")
    if first is not None and shot.panel_of(first) is None:
        onion["keyframe"] = _onion(project, first.path)  # an uploaded keyframe to trace over
    if previous is not None:
        kept = previous.keyframe("last") or previous.keyframe("first")
        if kept is not None:
            onion["previous panel"] = _onion(project, kept.path)
        take = previous.chosen()
        if shot.continuity and take is not None:
            from studio.media import MediaError, read_last_frame

            try:
                onion["previous shot's last frame"] = _jpeg_url(read_last_frame(project.resolve(take.path)))
            except (MediaError, ProjectError, OSError):
                pass
    return json.dumps({"sig": draw_signature(board, shot), "shot": shot.id, "width": board.width,
                       "height": board.height, "duration": shot.duration, "panels": panels,
                       "onion": {k: v for k, v in onion.items() if v}}, separators=(",", ":"))


def draw_signature(board: Board, shot: Shot) -> str:
    """Everything :func:`drawing_value` shows, cheaply: when it is unchanged nothing is resent."""
    index = board.index_of(shot.id)
    previous = board.shots[index - 1] if index > 0 else None
    return repr((shot.id, shot.panels, shot.keyframes, shot.continuity, shot.duration,
                 (previous.keyframes, previous.chosen_take) if previous else None, board.width, board.height))


def poll_hook(ui: Any) -> Callable[[dict, Project, Board, Shot], tuple[dict, dict[Any, Any]]]:
    """The Draw tab's part of the page's poll: the shot's drawing value again, only when its
    signature differs from the one this tab last got (its ``draw_sig``), e.g. another tab saved
    a panel of this shot. The script decides whether the canvas may be replaced."""
    def updates(value: dict, project: Project, board: Board, shot: Shot) -> tuple[dict, dict[Any, Any]]:
        signature = draw_signature(board, shot)
        if signature == value.get("draw_sig"):
            return value, {}
        return {**value, "draw_sig": signature}, {ui.ins.drawing.canvas: drawing_value(project, board, shot)}
    return updates


# --------------------------------------------------------------------------------------------
# What the script sends


def decode_layers(layers: Any) -> list[Any]:
    """The browser's layers (name, depth, visible, opacity, PNG data URL) as LayerPixels, every
    picture decoded with the same checks as any upload."""
    from studio.images import ImageError, load_rgba
    from studio.services.panels import LayerPixels, PanelError

    if not isinstance(layers, list) or not layers:
        raise PanelError("the drawing has no layers to save")
    decoded = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise PanelError(f"layer {index + 1} is not a layer")
        name = layer.get("name")
        data = layer.get("png")
        if not isinstance(data, str) or not data.startswith("data:image/png;base64,"):
            raise PanelError(f"layer {index + 1} ({name!r}) must be sent as a PNG")
        if len(data) > MAX_LAYER_BYTES * 4 // 3 + 64:
            raise PanelError(f"layer {index + 1} ({name!r}) is larger than {MAX_LAYER_BYTES // 2**20} MB")
        try:
            pixels = load_rgba(base64.b64decode(data.split(",", 1)[1], validate=True))
        except (binascii.Error, ValueError, ImageError) as error:
            raise PanelError(f"layer {index + 1} ({name!r}): {error}") from None
        decoded.append(LayerPixels(name if isinstance(name, str) else "", pixels, layer.get("depth", 1.0),
                                   layer.get("visible", True), layer.get("opacity", 1.0)))
    return decoded


def wire(ui: Any, panel: DrawingPanel, view: Any, shown: list[Any], options: dict[str, Any],
         errors: tuple[type[Exception], ...]) -> None:
    """Connect the Draw tab to the services (``ui`` is the page's handlers: project, owner,
    refreshed, failed)."""
    from studio.services import depth_split, panels

    outputs = shown + panel.outputs

    def answer(value: dict, message: str, extra: dict[Any, Any] | None = None) -> dict[Any, Any]:
        updates = ui.refreshed(value, message=("saved", message))
        project = ui.project(value, "viewer")
        board = ui.services.board(project)
        shot = board.shot(value["shot"]) if value.get("shot") in [s.id for s in board.shots] else None
        return {**updates, panel.canvas: drawing_value(project, board, shot), panel.status: html.escape(message),
                **(extra or {})}

    def failed(error: Exception) -> dict[Any, Any]:
        return {**ui.failed(error), panel.status: f"⚠ {html.escape(str(error))}"}

    def act(value: dict, event: gr.EventData) -> dict[Any, Any]:
        data = getattr(event, "_data", None) or {}
        if not value or not value.get("shot"):
            return failed(ValueError("select a shot first"))
        role, frame = data.get("role", "first"), data.get("frame", 0)
        try:
            frame = int(frame)
            project = ui.project(value)
            shot_id, owner = value["shot"], ui.owner(value)
            action = data.get("action")
            if action == "save":
                panels.save_panel(project, shot_id, decode_layers(data.get("layers")), role, frame,
                                  keyframe=bool(data.get("keyframe", True)), actor=owner)
                return answer(value, f"{role} panel saved")
            if action == "export":
                target = panels.export_panel_file(project, shot_id, str(data.get("fmt")), role, frame)
                return {panel.download: ui.media.publish(target), panel.status: f"exported {target.name}"}
            if action == "split":
                depth_split.split_keyframe(project, shot_id, role, frame, actor=owner)
                return answer(value, "split into depth layers: adjust their depths and save, or discard")
            if action == "discard":
                panels.discard_panel(project, shot_id, role, frame, actor=owner)
                return answer(value, f"{role} layers discarded (the keyframe stays)")
        except (*errors, ValueError, TypeError) as error:
            return failed(error)
        return {panel.status: gr.skip()}

    def imported(value: dict, file_path: str | None, role: str | None, frame: float | None) -> dict[Any, Any]:
        if not file_path or not value or not value.get("shot"):
            return {panel.status: gr.skip()}
        role = role or "first"
        try:
            path = Path(file_path)
            panels.import_file(ui.project(value), value["shot"], path.read_bytes(), path.name, role,
                               int(frame or 0) if role == "mid" else 0, actor=ui.owner(value))
        except (*errors, ValueError, TypeError) as error:
            return {**failed(error), panel.upload: None}
        where = f"mid panel at frame {int(frame or 0)}" if role == "mid" else f"{role} panel"
        return answer(value, f"imported {Path(file_path).name} as the {where}", {panel.upload: None})

    panel.canvas.click(act, [view], outputs, **{**options, "trigger_mode": "multiple"})
    panel.upload.upload(imported, [view, panel.upload, panel.import_role, panel.import_frame], outputs, **options)


def select_hook(ui: Any) -> Callable[[Project, Board, Shot | None], dict[Any, Any]]:
    """The Draw tab's update when the inspector shows a shot (layout.select calls it)."""
    def updates(project: Project, board: Board, shot: Shot | None) -> dict[Any, Any]:
        return {ui.ins.drawing.canvas: drawing_value(project, board, shot), ui.ins.drawing.status: ""}
    return updates


TEMPLATE = """
<div class="draw">
  <div class="draw-bar">
    <label>Panel <select data-k="role"><option value="first">first</option><option value="mid">mid</option>
      <option value="last">last</option></select></label>
    <label class="midframe">frame <input data-k="frame" type="number" min="0" value="0"></label>
    <span class="sep"></span>
    <button data-tool="brush" class="on" title="Brush (B)">✎ Brush</button>
    <button data-tool="eraser" title="Eraser (E)">⌫ Eraser</button>
    <button data-tool="fill" title="Fill (F)">◧ Fill</button>
    <label>size <input data-k="size" type="range" min="1" max="120" value="8"></label>
    <label>colour <input data-k="colour" type="color" value="#1f2937"></label>
    <label>opacity <input data-k="alpha" type="range" min="5" max="100" value="100"></label>
    <button data-act="undo" title="Undo (Ctrl+Z)">↶ Undo</button>
  </div>
  <div class="draw-notice" hidden>This panel was saved in another tab; your strokes here are not saved.
    <button data-act="reload">Load the saved panel</button></div>
  <div class="draw-main">
    <div class="draw-stage"><div class="onion"></div><div class="planes"></div><canvas class="pointer"></canvas></div>
    <div class="draw-side">
      <div class="layers"></div>
      <div class="row"><button data-act="add">+ Layer</button><button data-act="remove">− Layer</button></div>
      <div class="row"><button data-act="up">▲ Up</button><button data-act="down">▼ Down</button></div>
      <label class="filepick">Import image as layer <input data-k="image" type="file" accept="image/*"></label>
      <div class="onions"></div>
      <label>onion opacity <input data-k="onion" type="range" min="0" max="100" value="35"></label>
    </div>
  </div>
  <div class="draw-bar">
    <label><input data-k="keyframe" type="checkbox" checked> flattened panel is the keyframe</label>
    <button data-act="save" class="primary">Save panel</button>
    <button data-act="export-ora">Export .ora</button>
    <button data-act="export-psd">Export .psd</button>
    <button data-act="split" title="Split the uploaded keyframe into depth layers">Split keyframe into depth layers</button>
    <button data-act="discard">Discard layers</button>
  </div>
</div>
"""

CSS = """
.draw { display: flex; flex-direction: column; gap: 6px; font: 13px system-ui, sans-serif; }
.draw-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.draw-bar .sep { width: 8px; }
.draw button, .draw select, .draw input { font: inherit; font-size: 13px; }
.draw input[type=number], .draw input[type=text] { padding: 2px 4px; }
.draw button { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 3px 8px;
  background: var(--background-fill-secondary); cursor: pointer; }
.draw button.on { background: #2563eb; color: #fff; border-color: #1d4ed8; }
.draw button.primary { background: #ea580c; color: #fff; border-color: #c2410c; }
.draw-main { display: flex; gap: 8px; align-items: flex-start; }
.draw-stage { position: relative; flex: 1; background: #fff; border: 1px solid var(--border-color-primary);
  touch-action: none; overflow: hidden; }
.draw-stage canvas, .draw-stage .onion img { position: absolute; inset: 0; width: 100%; height: 100%; }
.draw-stage .onion img { object-fit: cover; pointer-events: none; }
.draw-stage .pointer { cursor: crosshair; z-index: 10; }
.draw-side { width: 190px; display: flex; flex-direction: column; gap: 4px; }
.draw-side .row { display: flex; gap: 4px; }
.draw .layers { display: flex; flex-direction: column-reverse; gap: 2px; }
.draw .layer { display: grid; grid-template-columns: 18px 1fr 60px; gap: 3px; align-items: center; padding: 2px;
  border: 1px solid transparent; border-radius: 4px; }
.draw .layer.active { border-color: #2563eb; background: rgba(37, 99, 235, .1); }
.draw .layer input[type=text], .draw .layer input[type=number] { width: 100%; min-width: 0; font-size: 12px; }
.draw .filepick input { width: 100%; }
.draw .midframe { display: none; }
.draw .draw-notice { padding: 4px 8px; border-radius: 6px; background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; }
.draw.mid .midframe { display: inline; }
"""

JS = r"""
const $ = (sel) => element.querySelector(sel);
const stage = $('.draw-stage'), planes = $('.planes'), pointer = $('.pointer'), onionBox = $('.onion');
const root = $('.draw');
let W = 832, H = 480, layers = [], active = 0, tool = 'brush', history = [], sig = null, data = {};
let dirty = false, pending = null;  // unsaved changes; a newer value held back because of them
const DEFAULTS = [['background', 2.0], ['midground', 1.0], ['foreground', 0.6]];

function control(k) { return element.querySelector(`[data-k="${k}"]`); }
function role() { return control('role').value; }
function slot() { return role() === 'mid' ? `mid@${control('frame').value || 0}` : role(); }

function makeLayer(name, depth, visible = true, opacity = 1.0) {
  const canvas = document.createElement('canvas');
  canvas.width = W; canvas.height = H;
  return {name, depth, visible, opacity, canvas, ctx: canvas.getContext('2d', {willReadFrequently: true})};
}
function paper(layer) { layer.ctx.fillStyle = '#ffffff'; layer.ctx.fillRect(0, 0, W, H); }

function layout() {
  stage.style.aspectRatio = `${W} / ${H}`;
  pointer.width = W; pointer.height = H;
  planes.replaceChildren(...layers.map(l => { l.canvas.style.display = l.visible ? '' : 'none';
                                             l.canvas.style.opacity = l.opacity; return l.canvas; }));
  const list = $('.layers');
  list.replaceChildren(...layers.map((l, i) => {
    const row = document.createElement('div');
    row.className = 'layer' + (i === active ? ' active' : '');
    row.dataset.index = i;
    row.innerHTML = '<input type="checkbox" title="visible"><input type="text" title="name"><input type="number" step="0.1" min="0.1" max="100" title="depth (far > 1 > near)">';
    const [vis, name, depth] = row.querySelectorAll('input');
    vis.checked = l.visible; name.value = l.name; depth.value = l.depth;
    vis.addEventListener('change', () => { l.visible = vis.checked; changed(); layout(); });
    name.addEventListener('change', () => { l.name = name.value; changed(); });
    depth.addEventListener('change', () => { l.depth = parseFloat(depth.value) || 1.0; changed(); });
    row.addEventListener('pointerdown', () => { if (active !== i) { active = i; layout(); } });
    return row;
  }));
}

function onions() {
  const box = $('.onions');
  const pictures = Object.assign({}, data.onion || {});
  const first = (data.panels || {}).first;
  if (role() !== 'first' && first && first.flat) pictures['first panel'] = first.flat;
  box.replaceChildren(...Object.keys(pictures).map(key => {
    const label = document.createElement('label');
    label.innerHTML = '<input type="checkbox"> onion: ';
    label.append(key);
    label.firstChild.dataset.onion = key;
    label.firstChild.addEventListener('change', showOnion);
    return label;
  }));
  box.pictures = pictures;
  showOnion();
}
function showOnion() {
  const box = $('.onions');
  const on = [...box.querySelectorAll('input:checked')].map(i => box.pictures[i.dataset.onion]);
  onionBox.replaceChildren(...on.map(src => { const img = new Image(); img.src = src; return img; }));
  onionBox.style.opacity = control('onion').value / 100;
  onionBox.style.zIndex = 5;
}

function changed() { dirty = true; }
function load() {
  const panel = (data.panels || {})[slot()];
  history = [];
  dirty = false;
  active = 0;
  if (!panel) {
    layers = DEFAULTS.map(([name, depth]) => makeLayer(name, depth));
    paper(layers[0]);
    control('keyframe').checked = true;
    layout(); onions();
    return;
  }
  layers = panel.layers.map(l => makeLayer(l.name, l.depth, l.visible, l.opacity));
  control('keyframe').checked = panel.keyframe;
  panel.layers.forEach((l, i) => {
    const img = new Image();
    img.onload = () => layers[i] && layers[i].ctx.drawImage(img, 0, 0, W, H);
    img.src = l.src;
  });
  active = layers.length - 1;
  layout(); onions();
}

function show(text) {
  const value = typeof text === 'string' ? (text ? JSON.parse(text) : null) : text;
  if (!value || value.sig === sig) return;
  if (dirty && value.shot && value.shot === data.shot) {  // the same shot changed elsewhere: keep the strokes
    pending = value;
    $('.draw-notice').hidden = false;
    return;
  }
  pending = null;
  $('.draw-notice').hidden = true;
  sig = value.sig; data = value;
  root.style.opacity = value.shot ? 1 : 0.4;
  if (!value.shot) return;
  W = value.width; H = value.height;
  control('frame').max = Math.max(0, (value.duration || 1) - 1);
  load();
}

function snapshot() {
  const l = layers[active];
  history.push({layer: l, image: l.ctx.getImageData(0, 0, W, H)});
  changed();
  if (history.length > 40) history.shift();
}
function undo() {
  const step = history.pop();
  if (step) step.layer.ctx.putImageData(step.image, 0, 0);
}

function at(event) {
  const r = pointer.getBoundingClientRect();
  return [(event.clientX - r.left) * W / r.width, (event.clientY - r.top) * H / r.height];
}
function rgb() { const c = control('colour').value; return [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)); }

function fill(x, y) {
  const l = layers[active], image = l.ctx.getImageData(0, 0, W, H), px = image.data;
  x = Math.floor(x); y = Math.floor(y);
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  const start = (y * W + x) * 4, target = [px[start], px[start + 1], px[start + 2], px[start + 3]];
  const [r, g, b] = rgb(), a = Math.round(255 * control('alpha').value / 100);
  const same = (i) => Math.abs(px[i] - target[0]) + Math.abs(px[i + 1] - target[1]) + Math.abs(px[i + 2] - target[2]) + Math.abs(px[i + 3] - target[3]) < 48;
  const seen = new Uint8Array(W * H), stack = [[x, y]];
  while (stack.length) {
    let [cx, cy] = stack.pop();
    while (cx >= 0 && !seen[cy * W + cx] && same((cy * W + cx) * 4)) cx--;
    cx++;
    let up = false, down = false;
    while (cx < W && !seen[cy * W + cx] && same((cy * W + cx) * 4)) {
      const i = (cy * W + cx) * 4;
      seen[cy * W + cx] = 1;
      const keep = 1 - a / 255, alpha = a + px[i + 3] * keep;
      for (let c = 0; c < 3; c++) px[i + c] = alpha ? ([r, g, b][c] * a + px[i + c] * px[i + 3] * keep) / alpha : 0;
      px[i + 3] = alpha;
      if (cy > 0) { const s = !seen[(cy - 1) * W + cx] && same(((cy - 1) * W + cx) * 4); if (s && !up) stack.push([cx, cy - 1]); up = s; }
      if (cy < H - 1) { const s = !seen[(cy + 1) * W + cx] && same(((cy + 1) * W + cx) * 4); if (s && !down) stack.push([cx, cy + 1]); down = s; }
      cx++;
    }
  }
  l.ctx.putImageData(image, 0, 0);
}

let stroke = null;
const temp = document.createElement('canvas');
pointer.addEventListener('pointerdown', (event) => {
  if (!data.shot || !layers[active]) return;
  event.preventDefault();
  pointer.setPointerCapture(event.pointerId);
  snapshot();
  const [x, y] = at(event);
  if (tool === 'fill') { fill(x, y); return; }
  temp.width = W; temp.height = H;
  const ctx = temp.getContext('2d');
  ctx.lineCap = ctx.lineJoin = 'round';
  ctx.lineWidth = control('size').value;
  ctx.strokeStyle = control('colour').value;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke();
  stroke = {ctx, points: [[x, y]]};
  const preview = pointer.getContext('2d');
  preview.clearRect(0, 0, W, H);
  preview.globalAlpha = tool === 'eraser' ? 0.35 : control('alpha').value / 100;
  preview.drawImage(temp, 0, 0);
});
pointer.addEventListener('pointermove', (event) => {
  if (!stroke) return;
  const [x, y] = at(event), [px, py] = stroke.points[stroke.points.length - 1];
  stroke.ctx.beginPath(); stroke.ctx.moveTo(px, py); stroke.ctx.lineTo(x, y); stroke.ctx.stroke();
  stroke.points.push([x, y]);
  const preview = pointer.getContext('2d');
  preview.clearRect(0, 0, W, H); preview.drawImage(temp, 0, 0);
});
function endStroke() {
  if (!stroke) return;
  const ctx = layers[active].ctx;
  ctx.save();
  ctx.globalAlpha = control('alpha').value / 100;
  ctx.globalCompositeOperation = tool === 'eraser' ? 'destination-out' : 'source-over';
  ctx.drawImage(temp, 0, 0);
  ctx.restore();
  pointer.getContext('2d').clearRect(0, 0, W, H);
  stroke = null;
}
pointer.addEventListener('pointerup', endStroke);
pointer.addEventListener('pointercancel', endStroke);

function move(delta) {
  const to = active + delta;
  if (to < 0 || to >= layers.length) return;
  [layers[active], layers[to]] = [layers[to], layers[active]];
  active = to; changed(); layout();
}
function send(action, extra = {}) {
  trigger('click', Object.assign({action, role: role(), frame: parseInt(control('frame').value || '0', 10)}, extra));
}
element.querySelectorAll('[data-tool]').forEach(button => button.addEventListener('click', () => {
  tool = button.dataset.tool;
  element.querySelectorAll('[data-tool]').forEach(b => b.classList.toggle('on', b === button));
}));
element.querySelectorAll('[data-act]').forEach(button => button.addEventListener('click', () => {
  const act = button.dataset.act;
  if (act === 'undo') undo();
  else if (act === 'reload') { dirty = false; show(pending); }
  else if (act === 'add') {
    let n = layers.length + 1; while (layers.some(l => l.name === `layer ${n}`)) n++;
    layers.splice(active + 1, 0, makeLayer(`layer ${n}`, 1.0)); active += 1; changed(); layout();
  } else if (act === 'remove') { if (layers.length > 1) { layers.splice(active, 1); active = Math.max(0, active - 1); changed(); layout(); } }
  else if (act === 'up') move(1);
  else if (act === 'down') move(-1);
  else if (act === 'save') (dirty = false, send('save', {keyframe: control('keyframe').checked, layers: layers.map(l => ({
      name: l.name, depth: l.depth, visible: l.visible, opacity: l.opacity, png: l.canvas.toDataURL('image/png')}))}));
  else if (act === 'export-ora') send('export', {fmt: 'ora'});
  else if (act === 'export-psd') send('export', {fmt: 'psd'});
  else send(act);
}));
control('role').addEventListener('change', () => { root.classList.toggle('mid', role() === 'mid'); load(); });
control('frame').addEventListener('change', load);
control('onion').addEventListener('input', showOnion);
control('image').addEventListener('change', (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const img = new Image();
  img.onload = () => {
    const layer = makeLayer(file.name.replace(/\.[^.]+$/, '').slice(0, 60) || 'image', 1.0);
    const scale = Math.max(W / img.width, H / img.height);
    layer.ctx.drawImage(img, (W - img.width * scale) / 2, (H - img.height * scale) / 2, img.width * scale, img.height * scale);
    layers.splice(active + 1, 0, layer); active += 1; changed(); layout();
    URL.revokeObjectURL(img.src); event.target.value = '';
  };
  img.src = URL.createObjectURL(file);
});
element.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === 'z') { event.preventDefault(); undo(); }
});
watch('value', () => show(props.value));
show(props.value);
"""
