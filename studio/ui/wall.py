"""The storyboard wall: every shot as a panel in a grid, in one ``gr.HTML`` component.

Why one component and a small script: a board of 300 shots as Gradio widgets is 300 widget sets
rebuilt on every change. Here the server sends the panels as data (``{"panels": [...]}``) and the
script keeps one DOM node per shot id, replacing only the panels whose data changed. The
template itself never changes, so Gradio never rebuilds the grid. The data travels as one JSON
string, not an object: the page clones and deep-proxies an object value on every update (at 300
shots that was most of an action's time in the browser), a string it passes through.

What the script sends back is one ``click`` event whose data names an action:
``select`` (ids, primary), ``move`` (ids, to: index among the other shots), ``undo``, ``redo``.
Selection lives in the browser: click, shift-click (range), ctrl/cmd-click (toggle); arrow keys
move the selection; Alt+arrow (or "[" and "]") moves the selected panels; drag and drop moves them.
"""

from __future__ import annotations

import json
from typing import Any

from studio.board import Board, Shot
from studio.scenes import dialogue_timing, scene_label, scene_runs
from studio.timeline import shot_label

ARROWS = {
    "static": "■", "pan_left": "←", "pan_right": "→", "tilt_up": "↑", "tilt_down": "↓",
    "roll_cw": "↻", "roll_ccw": "↺", "zoom_in": "+", "zoom_out": "−", "dolly_in": "⇡", "dolly_out": "⇣",
    "truck_left": "⇠", "truck_right": "⇢", "pedestal_up": "⇑", "pedestal_down": "⇓",
    "crane_up": "⇗", "crane_down": "⇘", "orbit_left": "↶", "orbit_right": "↷", "dolly_zoom": "⇔",
    "handheld": "∿",
}
"""A glyph per camera move, drawn over the panel's picture."""

TEMPLATE = '<div class="wall" tabindex="0" aria-label="Storyboard wall"></div>'

CSS = """
.wall { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px;
  padding: 4px; outline: none; }
.panel { position: relative; border: 2px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-secondary); cursor: pointer; user-select: none; overflow: hidden; }
.panel.selected { border-color: #2563eb; box-shadow: 0 0 0 2px #93c5fd; }
.panel.primary { border-color: #1d4ed8; }
.panel.drop-before { box-shadow: -6px 0 0 -2px #f59e0b; }
.panel .pic { aspect-ratio: var(--aspect, 16 / 9); background: #1f2937; position: relative;
  display: flex; align-items: center; justify-content: center; }
.panel .pic img { width: 100%; height: 100%; object-fit: cover; display: block; pointer-events: none; }
.panel .slate { color: #e5e7eb; font: 600 28px/1 system-ui, sans-serif; text-align: center; }
.panel .slate small { display: block; font-size: 11px; font-weight: 400; margin-top: 6px; opacity: .8; }
.panel .num { position: absolute; top: 4px; left: 4px; background: rgba(0,0,0,.7); color: #fff;
  font: 700 12px/1 system-ui; padding: 3px 6px; border-radius: 4px; }
.panel .move { position: absolute; bottom: 4px; right: 4px; background: rgba(0,0,0,.65); color: #fff;
  font: 12px/1 system-ui; padding: 3px 6px; border-radius: 4px; max-width: 90%; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.panel .move b { font-size: 14px; margin-right: 3px; }
.panel .meta { padding: 4px 6px; font-size: 12px; display: flex; gap: 6px; align-items: center; }
.panel .title { flex: 1; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.panel .dur { opacity: .75; }
.panel .badge { position: absolute; top: 4px; right: 4px; font: 600 11px/1 system-ui; padding: 3px 6px;
  border-radius: 10px; color: #fff; background: #6b7280; }
.badge.done { background: #15803d; } .badge.none { background: #6b7280; }
.badge.queued { background: #a16207; } .badge.rendering { background: #1d4ed8; }
.badge.failed { background: #b91c1c; } .badge.stale { background: #c2410c; }
.panel .bar { position: absolute; left: 0; bottom: 0; height: 4px; background: #60a5fa; }
.wall-empty { padding: 24px; opacity: .7; }
.scene-head { grid-column: 1 / -1; font: 700 13px/1.3 system-ui, sans-serif; padding: 8px 2px 0;
  border-bottom: 1px solid var(--border-color-primary); letter-spacing: .02em; }
.scene-head small { font-weight: 400; opacity: .75; margin-left: 8px; }
.panel .warn { position: absolute; left: 4px; top: 24px; background: #b45309; color: #fff;
  font: 600 11px/1 system-ui; padding: 3px 6px; border-radius: 4px; }
"""

JS = r"""
const grid = element.querySelector('.wall');
const nodes = new Map();      // shot id -> panel element
const heads = new Map();      // scene run key -> scene header element (the grid's other children)
const shown = new Map();      // shot id -> {body: JSON of what it shows but its number, n: number}
let order = [];               // shot ids as shown
let selected = new Set();
let primary = null;
let anchor = null;
let dragging = null;

function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}

function fill(node, p) {
  const pic = p.img ? `<img src="${esc(p.img)}" alt="">`
                    : `<div class="slate">${p.n}<small>${esc(p.slate)}</small></div>`;
  const bar = p.status === 'rendering' ? `<div class="bar" style="width:${Math.round(p.progress * 100)}%"></div>` : '';
  node.innerHTML = `<div class="pic">${pic}<span class="num">${p.n}</span>` +
    `<span class="badge ${esc(p.status)}" title="${esc(p.detail)}">${esc(p.badge)}</span>` +
    `<span class="move" title="${esc(p.moves)}"><b>${esc(p.arrow)}</b>${esc(p.move)}</span>${bar}` +
    (p.warn ? `<span class="warn" title="${esc(p.warn)}">⚠ dialogue too long</span>` : '') + `</div>` +
    `<div class="meta"><span class="title" title="${esc(p.title)}">${esc(p.title)}</span>` +
    `<span class="dur" title="${p.frames} frames">${esc(p.seconds)}</span></div>`;
}

function renumber(node, n) {
  node.querySelector('.num').textContent = n;
  const slate = node.querySelector('.slate');
  if (slate && slate.firstChild) slate.firstChild.nodeValue = n;
}

function paintSelection() {
  for (const [id, node] of nodes) {
    node.classList.toggle('selected', selected.has(id));
    node.classList.toggle('primary', id === primary);
    node.setAttribute('aria-selected', selected.has(id) ? 'true' : 'false');
  }
}

function sendSelection() {
  trigger('click', {action: 'select', ids: order.filter(id => selected.has(id)), primary: primary});
}

function select(id, event) {
  if (event && event.shiftKey && anchor && order.includes(anchor)) {
    const [a, b] = [order.indexOf(anchor), order.indexOf(id)].sort((x, y) => x - y);
    selected = new Set(order.slice(a, b + 1));
  } else if (event && (event.ctrlKey || event.metaKey)) {
    selected.has(id) ? selected.delete(id) : selected.add(id);
    anchor = id;
  } else {
    selected = new Set([id]);
    anchor = id;
  }
  primary = selected.has(id) ? id : ([...selected].pop() ?? null);
  paintSelection();
  sendSelection();
}

function moveSelection(delta) {
  const ids = order.filter(id => selected.has(id));
  if (!ids.length) return;
  const rest = order.filter(id => !selected.has(id));
  const first = order.indexOf(ids[0]);
  const to = Math.max(0, Math.min(rest.length, first + delta));
  if (to === first) return;
  trigger('click', {action: 'move', ids: ids, to: to});
}

function draw(value) {
  const data = typeof value === 'string' ? (value ? JSON.parse(value) : {}) : value;
  const panels = (data && data.panels) || [];
  grid.style.setProperty('--aspect', (data && data.aspect) || '16 / 9');
  const ids = panels.map(p => p.id);
  const kept = new Set(ids);
  for (const [id, node] of nodes) {
    if (!kept.has(id)) { node.remove(); nodes.delete(id); shown.delete(id); selected.delete(id); }
  }
  const wanted = new Set(panels.filter(p => p.scene).map(p => p.scene.key));
  for (const [key, head] of heads) {
    if (!wanted.has(key)) { head.remove(); heads.delete(key); }
  }
  let index = 0;
  panels.forEach((p) => {
    if (p.scene) {
      let head = heads.get(p.scene.key);
      if (!head) { head = document.createElement('div'); head.className = 'scene-head'; heads.set(p.scene.key, head); }
      const html = `${esc(p.scene.label)}<small>${esc(p.scene.synopsis)}</small>`;
      if (head.innerHTML !== html) head.innerHTML = html;
      head.title = p.scene.synopsis || '';
      if (grid.children[index] !== head) grid.insertBefore(head, grid.children[index] || null);
      index += 1;
    }
    let node = nodes.get(p.id);
    if (!node) {
      node = document.createElement('div');
      node.className = 'panel';
      node.dataset.id = p.id;
      node.draggable = true;
      node.setAttribute('role', 'option');
      nodes.set(p.id, node);
    }
    const body = JSON.stringify({...p, n: null, scene: null});  // what fill() draws, but the number
    const before = shown.get(p.id);
    if (!before || before.body !== body) { fill(node, p); }
    else if (before.n !== p.n) { renumber(node, p.n); }  // shots moved or were added above it
    shown.set(p.id, {body: body, n: p.n});
    if (grid.children[index] !== node) grid.insertBefore(node, grid.children[index] || null);
    index += 1;
  });
  order = ids;
  let empty = grid.querySelector('.wall-empty');
  if (!panels.length && !empty) {
    empty = document.createElement('div'); empty.className = 'wall-empty';
    empty.textContent = 'No shots yet: press "+ Add shot".'; grid.appendChild(empty);
  } else if (panels.length && empty) { empty.remove(); }
  if (data && data.select && nodes.has(data.select) && data.select !== primary) {
    selected = new Set([data.select]); primary = anchor = data.select;
  }
  if (primary && !nodes.has(primary)) { primary = [...selected].pop() ?? null; }
  paintSelection();
}

grid.addEventListener('click', (event) => {
  const node = event.target.closest('.panel');
  if (node) { grid.focus(); select(node.dataset.id, event); }
});
grid.addEventListener('dragstart', (event) => {
  const node = event.target.closest('.panel');
  if (!node) return;
  if (!selected.has(node.dataset.id)) { select(node.dataset.id, null); }
  dragging = order.filter(id => selected.has(id));
  event.dataTransfer.effectAllowed = 'move';
  event.dataTransfer.setData('text/plain', dragging.join(','));
});
grid.addEventListener('dragover', (event) => {
  if (!dragging) return;
  event.preventDefault();
  const node = event.target.closest('.panel');
  grid.querySelectorAll('.drop-before').forEach(n => n.classList.remove('drop-before'));
  if (node) node.classList.add('drop-before');
});
grid.addEventListener('drop', (event) => {
  if (!dragging) return;
  event.preventDefault();
  grid.querySelectorAll('.drop-before').forEach(n => n.classList.remove('drop-before'));
  const node = event.target.closest('.panel');
  const rest = order.filter(id => !dragging.includes(id));
  let to = rest.length;
  if (node && !dragging.includes(node.dataset.id)) {
    const box = node.getBoundingClientRect();
    to = rest.indexOf(node.dataset.id) + (event.clientX > box.left + box.width / 2 ? 1 : 0);
  }
  const ids = dragging;
  dragging = null;
  if (to !== order.indexOf(ids[0]) || ids.length > 1) trigger('click', {action: 'move', ids: ids, to: to});
});
grid.addEventListener('dragend', () => { dragging = null; });
grid.addEventListener('keydown', (event) => {
  if (!order.length) return;
  const alt = event.altKey || event.key === '[' || event.key === ']';
  const step = {ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1, '[': -1, ']': 1}[event.key];
  if (step === undefined) return;
  event.preventDefault();
  if (alt) { moveSelection(step); return; }
  const at = primary ? order.indexOf(primary) : -1;
  const next = order[Math.max(0, Math.min(order.length - 1, at + step))];
  select(next, event.shiftKey ? {shiftKey: true} : null);
  nodes.get(next)?.scrollIntoView({block: 'nearest'});
});
document.addEventListener('keydown', (event) => {
  const typing = event.target.closest && event.target.closest('input, textarea, [contenteditable="true"], select');
  if (typing || !(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== 'z') return;
  event.preventDefault();
  trigger('click', {action: event.shiftKey ? 'redo' : 'undo'});
});
watch('value', () => draw(props.value));
draw(props.value);
"""


def panel(shot: Shot, number: int | str, board: Board, *, img: str | None, status: str, badge: str,
          detail: str = "", progress: float = 0.0) -> dict[str, Any]:
    """One panel's data: what the script draws for a shot (all text escaped by the script);
    ``number`` from studio.scenes.shot_numbers; ``warn`` when its dialogue does not fit."""
    first = shot.camera[0]
    names = [m.move.replace("_", " ") for m in shot.camera if m.move != "static"] or ["static"]
    return {
        "id": shot.id, "n": number, "title": shot.title or shot_label(number), "img": img,
        "slate": shot.framing_label() or "no picture yet",
        "seconds": f"{board.fps.frames_to_seconds(shot.duration):.1f} s", "frames": shot.duration,
        "arrow": ARROWS.get(first.move, "•"), "move": " + ".join(names), "moves": shot.camera_label(),
        "status": status, "badge": badge, "detail": detail, "progress": round(progress, 3),
        "warn": dialogue_timing(board, shot).warning(board), "scene": None,
    }


EMPTY = json.dumps({"panels": []})
"""The wall's value before a project is shown."""


def wall_value(board: Board, panels: list[dict[str, Any]], select: str | None = None) -> str:
    """The component's value (JSON text): the panels (the first of each run of a scene's shots carries the
    scene's header), the picture aspect ratio, and a shot to select."""
    if board.scenes:
        first = 0
        for position, run in enumerate(scene_runs(board)):
            header = ({"key": f"{position}:{run.scene.id}", "label": scene_label(board, run.scene),
                       "synopsis": run.scene.synopsis} if run.scene is not None else
                      {"key": f"{position}:-", "label": "Outside any scene", "synopsis": ""})
            if first < len(panels):
                panels[first] = {**panels[first], "scene": header}
            first += len(run.shot_ids)
    return json.dumps({"panels": panels, "aspect": f"{board.width} / {board.height}", "select": select,
                       "revision": board.revision}, separators=(",", ":"))

