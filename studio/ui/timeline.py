"""The Timeline tab: an editor's track with the player, the export panel and the re-cut import.

The track is one ``gr.HTML`` component whose script owns its DOM (like the wall, studio/ui/wall.py):
the server sends the cut as data (``track_value``: shots in frames with their poster, the
transition into each, dialogue, the scratch track with its waveform peaks, the animatic's URL)
and the script draws it: clips as wide as their length, transitions between them, caption
markers, the waveform at its offset, and a playhead synced with a <video> of the animatic at
its own resolution (click the track to seek; space plays or pauses, left/right arrows step a
frame, Home/End). The shot under the playhead is marked on the track and on the board wall.

What the script sends back is one ``click`` event naming an action, each an undoable edit
through studio.services.edits with the revision the track showed: ``trim`` (a clip's edge
dragged, or in/out frames typed), ``transition`` (kind and length into a clip), ``audio``
(offset dragged or typed, level, mute) and ``audio_remove``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from studio.board import AUDIO_LEVEL_RANGE, TRANSITIONS, Board
from studio.common import FIT_MODES
from studio.exporters.pdf import LAYOUTS
from studio.services import edits
from studio.services.access import EDITOR, VIEWER
from studio.services.recut import FORMATS as EDIT_SUFFIXES
from studio.services.recut import MAX_EDIT_BYTES, RecutError, import_edit
from studio.services.track import track_data
from studio.storage import Project
from studio.timeline import BURN_INS

_BURN_IN_WORDS = {"shot": "shot number and title", "camera": "camera move", "dialogue": "dialogue caption"}
BURN_IN_LABELS = tuple((_BURN_IN_WORDS.get(name, name), name) for name in BURN_INS)
"""The export panel's burn-in choices: every timeline.BURN_INS, in words."""


def track_value(project: Project, board: Board, pictures: list[str | None], *, editable: bool,
                select: str | None = None, video: str | None = None, video_rev: int | None = None) -> str:
    """The track component's value as JSON text (like the wall's, studio/ui/wall.py: the page
    clones an object value on every update, a string it passes through); ``video`` None keeps
    the animatic the page already has."""
    data = track_data(project, board)
    for shot, picture in zip(data["shots"], pictures):
        shot["img"] = picture
    return json.dumps({**data, "aspect": board.width / board.height, "editable": editable, "select": select,
                       "video": video, "video_rev": video_rev, "transitions": list(TRANSITIONS),
                       "level_range": list(AUDIO_LEVEL_RANGE)}, separators=(",", ":"))


TEMPLATE = """<div class="tl" tabindex="0" aria-label="Timeline">
<div class="tl-player"><video playsinline preload="auto"></video><div class="tl-novideo">Press <b>Build animatic</b> to play the cut.</div></div>
<div class="tl-bar"><button type="button" class="tl-play" title="Play / pause (space)">▶</button>
<span class="tl-tc">00:00:00:00</span><span class="tl-frame"></span><span class="tl-stale"></span>
<label class="tl-zoom">zoom <input type="range" min="1" max="8" step="0.5" value="1"></label></div>
<div class="tl-scroll"><div class="tl-lanes">
<div class="tl-ruler"></div><div class="tl-clips"></div><div class="tl-captions"></div>
<div class="tl-audio" title="Drag to move the scratch track"><canvas></canvas><span class="tl-audio-name"></span></div>
<div class="tl-playhead"></div></div></div>
<div class="tl-edit"><div class="tl-clip-edit"></div><div class="tl-audio-edit"></div></div>
</div>"""

CSS = """
.tl { outline: none; display: flex; flex-direction: column; gap: 6px; }
.tl-player { position: relative; background: #111; display: flex; justify-content: center; min-height: 120px; }
.tl-player video { display: block; max-width: 100%; max-height: 62vh; width: auto; height: auto; background: #000; }
.tl-player video:not([src]) { display: none; }
.tl-novideo { color: #9ca3af; align-self: center; font: 14px system-ui; }
.tl-bar { display: flex; gap: 12px; align-items: center; font: 13px/1.2 ui-monospace, monospace; }
.tl-play { min-width: 44px; padding: 2px 10px; border-radius: 6px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); cursor: pointer; }
.tl-stale { color: #b45309; font-family: system-ui; }
.tl-zoom { margin-left: auto; font-family: system-ui; display: flex; gap: 4px; align-items: center; }
.tl-scroll { overflow-x: auto; border: 1px solid var(--border-color-primary); border-radius: 6px; }
.tl-lanes { position: relative; min-width: 100%; user-select: none; cursor: pointer; }
.tl-ruler { height: 18px; position: relative; background: var(--background-fill-secondary);
  font: 10px/18px ui-monospace, monospace; color: #6b7280; }
.tl-ruler span { position: absolute; top: 0; border-left: 1px solid #9ca3af; padding-left: 2px; height: 18px; }
.tl-clips { position: relative; height: 74px; }
.tl-clip { position: absolute; top: 2px; height: 70px; box-sizing: border-box; border: 2px solid #374151;
  border-radius: 4px; overflow: hidden; background: #1f2937 center / cover no-repeat; color: #fff; }
.tl-clip.selected { border-color: #2563eb; box-shadow: 0 0 0 2px #93c5fd; z-index: 2; }
.tl-clip.playing { border-color: #f59e0b; }
.tl-clip .lab { position: absolute; left: 0; right: 0; bottom: 0; padding: 2px 4px; background: rgba(0,0,0,.65);
  color: #fff !important; font: 11px/1.2 system-ui; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tl-clip .num { position: absolute; left: 3px; top: 3px; background: rgba(0,0,0,.7); padding: 1px 4px;
  color: #fff !important; border-radius: 3px; font: 700 11px/1.2 system-ui; }
.tl-clip .slate { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  font: 600 12px system-ui; color: #d1d5db; }
.tl-h { position: absolute; top: 0; bottom: 0; width: 8px; cursor: ew-resize; z-index: 3; background: rgba(255,255,255,.0); }
.tl-h:hover, .tl-h.drag { background: rgba(250, 204, 21, .8); }
.tl-h.in { left: 0; } .tl-h.out { right: 0; }
.tl-tr { position: absolute; top: 2px; height: 70px; z-index: 4; pointer-events: none; box-sizing: border-box;
  font: 700 10px/1 system-ui; color: #fff; display: flex; align-items: flex-start; justify-content: center; }
.tl-tr.cross_dissolve { background: linear-gradient(to right, rgba(37,99,235,.15), rgba(37,99,235,.55));
  border: 1px dashed #93c5fd; }
.tl-tr.dip_to_black { background: linear-gradient(to right, transparent, rgba(0,0,0,.85), transparent); }
.tl-tr.dip_to_white { background: linear-gradient(to right, transparent, rgba(255,255,255,.85), transparent); color: #111; }
.tl-tr span { background: rgba(0,0,0,.6); padding: 1px 3px; border-radius: 3px; margin-top: 2px; }
.tl-captions { position: relative; height: 18px; }
.tl-cap { position: absolute; top: 1px; height: 16px; max-width: 260px; padding: 0 4px; border-left: 2px solid #a855f7;
  background: rgba(168,85,247,.12); font: 11px/16px system-ui; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tl-audio { position: relative; height: 44px; background: #0f172a; cursor: grab; }
.tl-audio canvas { position: absolute; left: 0; top: 0; height: 44px; }
.tl-audio-name { position: absolute; left: 4px; top: 2px; font: 10px system-ui; color: #94a3b8; pointer-events: none; }
.tl-playhead { position: absolute; top: 0; bottom: 0; width: 2px; background: #ef4444; pointer-events: none; z-index: 5; }
.tl-edit { display: flex; flex-wrap: wrap; gap: 16px; font: 13px system-ui; }
.tl-edit label { display: inline-flex; gap: 4px; align-items: center; margin-right: 8px; }
.tl-silent { color: #6b7280; font-style: italic; }
.tl-edit input[type=number] { width: 64px; }
.tl-edit button { padding: 1px 8px; border-radius: 4px; border: 1px solid var(--border-color-primary); cursor: pointer; }
"""

JS = r"""
const root = element.querySelector('.tl');
const video = root.querySelector('video');
const lanes = root.querySelector('.tl-lanes');
const scroller = root.querySelector('.tl-scroll');
const clipsLane = root.querySelector('.tl-clips');
const capLane = root.querySelector('.tl-captions');
const ruler = root.querySelector('.tl-ruler');
const audioLane = root.querySelector('.tl-audio');
const canvas = audioLane.querySelector('canvas');
const playhead = root.querySelector('.tl-playhead');
const clipEdit = root.querySelector('.tl-clip-edit');
const audioEdit = root.querySelector('.tl-audio-edit');
const zoom = root.querySelector('.tl-zoom input');
let data = {shots: [], total_frames: 0, rate: 24, audio: null};
let ppf = 1;            // pixels per frame
let current = 0;        // frame under the playhead
let selected = null;    // shot id whose in/out and transition the edit row shows
let videoRev = null;
let drag = null;
let wallMarked = null;

function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}
function tc(frame) {
  const nominal = Math.ceil(data.rate), f = Math.max(0, frame);
  const s = Math.floor(f / nominal), pad = n => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}:${pad(f % nominal)}`;
}
function shotAt(frame) {
  let found = null;
  for (const s of data.shots) { if (frame >= s.start) found = s; }
  return found;
}
function layout() {
  const width = Math.max(200, scroller.clientWidth - 2);
  ppf = (width / Math.max(1, data.total_frames)) * parseFloat(zoom.value);
  lanes.style.width = `${Math.max(width, data.total_frames * ppf)}px`;
}
function draw(text) {
  const value = typeof text === 'string' ? (text ? JSON.parse(text) : null) : text;
  if (!value || !value.shots) return;
  data = value;
  if (value.video && value.video !== video.getAttribute('src')) {
    video.setAttribute('src', value.video); videoRev = value.video_rev; video.load();
  }
  root.querySelector('.tl-novideo').style.display = video.getAttribute('src') ? 'none' : '';
  if (value.select && data.shots.some(s => s.id === value.select)) selected = value.select;
  if (!data.shots.some(s => s.id === selected)) selected = data.shots.length ? data.shots[0].id : null;
  layout();
  drawRuler(); drawClips(); drawCaptions(); drawAudio(); drawEdit(); place();
}
function drawRuler() {
  const every = Math.max(1, Math.ceil(60 / ppf / data.rate)) * Math.round(data.rate);
  let marks = '';
  for (let f = 0; f <= data.total_frames; f += every) marks += `<span style="left:${f * ppf}px">${tc(f).slice(3)}</span>`;
  ruler.innerHTML = marks;
}
function drawClips() {
  let out = '';
  data.shots.forEach((s, i) => {
    const pic = s.img ? `style="left:${s.start * ppf}px;width:${s.length * ppf}px;background-image:url('${esc(s.img)}')"`
                      : `style="left:${s.start * ppf}px;width:${s.length * ppf}px"`;
    const handles = data.editable ? '<div class="tl-h in" title="Drag to trim the head"></div><div class="tl-h out" title="Drag to trim the tail"></div>' : '';
    out += `<div class="tl-clip${s.id === selected ? ' selected' : ''}" data-id="${esc(s.id)}" ${pic} title="${esc(s.number)}. ${esc(s.title)} · ${s.length} frames (in ${s.trim_in}, out ${s.duration - s.trim_out} of ${s.duration})">` +
      (s.img ? '' : `<div class="slate">SHOT ${esc(s.number)}</div>`) +
      `<span class="num">${esc(s.number)}</span><div class="lab">${esc(s.title || 'Shot ' + s.number)} · ${s.length} f</div>${handles}</div>`;
    const t = s.transition;
    if (i > 0 && t.kind !== 'cut') {
      const width = Math.max(6, t.length * ppf);
      const left = t.kind === 'cross_dissolve' ? s.start * ppf : s.start * ppf - width / 2;
      const label = {cross_dissolve: 'X', dip_to_black: 'B', dip_to_white: 'W'}[t.kind] || '';
      out += `<div class="tl-tr ${esc(t.kind)}" data-into="${esc(s.id)}" style="left:${left}px;width:${width}px" title="${esc(t.kind.replace(/_/g, ' '))} ${t.length} frames"><span>${label} ${t.length}</span></div>`;
    }
  });
  clipsLane.innerHTML = out;
}
function drawCaptions() {
  capLane.innerHTML = data.shots.filter(s => s.dialogue).map(s =>
    `<div class="tl-cap" data-id="${esc(s.id)}" style="left:${s.start * ppf}px" title="${esc(s.speaker ? s.speaker + ': ' : '')}${esc(s.dialogue)}">${esc(s.speaker ? s.speaker.toUpperCase() + ': ' : '')}${esc(s.dialogue)}</div>`).join('');
}
function drawAudio(offset) {
  const a = data.audio;
  const ctx = canvas.getContext('2d');
  const width = Math.max(1, Math.round(lanes.clientWidth || data.total_frames * ppf));
  canvas.width = width; canvas.height = 44; canvas.style.width = `${width}px`;
  ctx.clearRect(0, 0, width, 44);
  audioLane.querySelector('.tl-audio-name').textContent = a ? `${a.name}${a.muted ? ' (muted)' : ''}${a.error ? ' — ' + a.error : ''}` : 'no scratch track';
  audioLane.style.display = '';
  if (!a) return;
  const at = offset ?? a.offset;
  const gain = Math.pow(10, (a.level || 0) / 20);
  ctx.fillStyle = a.muted ? '#475569' : '#38bdf8';
  const peaks = a.peaks || [];
  for (let i = 0; i < peaks.length; i++) {
    const x = (at + i) * ppf;
    if (x > width) break;
    const h = Math.min(1, peaks[i] * gain) * 40;
    ctx.fillRect(x, 22 - h / 2, Math.max(1, ppf), Math.max(1, h));
  }
  ctx.fillStyle = '#f8fafc'; ctx.fillRect(at * ppf, 0, 2, 44);
}
let editStale = false;   // a redraw waited while the person was typing in the edit row
function drawEdit() {
  if (root.querySelector('.tl-edit').contains(document.activeElement)) { editStale = true; return; }
  editStale = false;
  const s = data.shots.find(x => x.id === selected);
  const off = data.editable ? '' : ' disabled';
  if (!s) { clipEdit.innerHTML = ''; } else {
    const kinds = (data.transitions || ['cut']).map(k => `<option value="${k}"${k === s.transition.kind ? ' selected' : ''}>${k.replace(/_/g, ' ')}</option>`).join('');
    clipEdit.innerHTML = `<b>Shot ${esc(s.number)}</b> ${esc(s.title)} &nbsp;` +
      `<label>In <input type="number" class="tl-in" min="0" value="${s.trim_in}"${off}></label>` +
      `<label>Out <input type="number" class="tl-out" min="1" max="${s.duration}" value="${s.duration - s.trim_out}"${off}> of ${s.duration} frames</label>` +
      `<label>Transition in <select class="tl-kind"${off}>${kinds}</select></label>` +
      `<label>length <input type="number" class="tl-len" min="0" value="${s.transition.length}"${off}> frames</label>` +
      (s.take_audio ? `<label title="The take's own sound (a model that makes it), mixed with the scratch track">Take sound ` +
        `<input type="range" class="tl-take-level" min="${(data.level_range || [-60, 12])[0]}" max="${(data.level_range || [-60, 12])[1]}" step="0.5" value="${s.take_audio_level}"${off}>` +
        `<span class="tl-take-level-db">${s.take_audio_level} dB</span></label>` : `<span class="tl-silent" title="Its take has no sound of its own">silent take</span>`);
  }
  const a = data.audio;
  const [low, high] = data.level_range || [-60, 12];
  audioEdit.innerHTML = a ? `<b>Scratch audio</b> &nbsp;` +
    `<label>Offset <input type="number" class="tl-offset" min="0" value="${a.offset}"${off}> frames</label>` +
    `<label>Level <input type="range" class="tl-level" min="${low}" max="${high}" step="0.5" value="${a.level}"${off}><span class="tl-level-db">${a.level} dB</span></label>` +
    `<label><input type="checkbox" class="tl-mute"${a.muted ? ' checked' : ''}${off}> mute</label>` +
    `<button type="button" class="tl-remove"${off}>Remove</button>` : '<i>No scratch track: add one below.</i>';
}
function place() {
  const x = current * ppf;
  playhead.style.left = `${x}px`;
  root.querySelector('.tl-tc').textContent = tc(current);
  root.querySelector('.tl-frame').textContent = `frame ${current} / ${data.total_frames}`;
  const stale = video.getAttribute('src') && videoRev !== null && videoRev !== data.revision;
  root.querySelector('.tl-stale').textContent = stale ? `the animatic is from revision ${videoRev}; Build again to see revision ${data.revision}` : '';
  const s = shotAt(current);
  clipsLane.querySelectorAll('.tl-clip').forEach(n => n.classList.toggle('playing', !!s && n.dataset.id === s.id));
  const id = s ? s.id : null;
  if (id !== wallMarked) {
    document.querySelectorAll('#wall .panel.playing-now').forEach(n => { n.classList.remove('playing-now'); n.style.outline = ''; });
    const panel = id && document.querySelector(`#wall .panel[data-id="${CSS.escape(id)}"]`);
    if (panel) { panel.classList.add('playing-now'); panel.style.outline = '3px solid #f59e0b'; }
    wallMarked = id;
  }
  if (x < scroller.scrollLeft || x > scroller.scrollLeft + scroller.clientWidth) scroller.scrollLeft = Math.max(0, x - 40);
}
function seek(frame) {
  current = Math.max(0, Math.min(Math.max(0, data.total_frames - 1), Math.round(frame)));
  if (video.getAttribute('src')) video.currentTime = (current + 0.5) / data.rate;
  place();
}
function frameOf(event) {
  const box = lanes.getBoundingClientRect();
  return Math.floor((event.clientX - box.left) / ppf);
}
function send(action, extra) { trigger('click', Object.assign({action: action, base: data.revision}, extra)); }

video.addEventListener('timeupdate', () => { if (!video.paused) return; current = Math.min(data.total_frames - 1, Math.floor(video.currentTime * data.rate)); place(); });
function tick() {
  if (!video.paused) { current = Math.min(Math.max(0, data.total_frames - 1), Math.floor(video.currentTime * data.rate)); place(); requestAnimationFrame(tick); }
}
video.addEventListener('play', () => { root.querySelector('.tl-play').textContent = '❚❚'; requestAnimationFrame(tick); });
video.addEventListener('pause', () => { root.querySelector('.tl-play').textContent = '▶'; });
function toggle() {
  if (!video.getAttribute('src')) return;
  if (video.paused) video.play().catch(() => {}); else video.pause();
}
root.querySelector('.tl-play').addEventListener('click', toggle);
zoom.addEventListener('input', () => draw(data));
window.addEventListener('resize', () => draw(data));

lanes.addEventListener('mousedown', (event) => {
  root.focus({preventScroll: true});
  const handle = event.target.closest('.tl-h');
  const clip = event.target.closest('.tl-clip');
  if (handle && clip && data.editable) {
    const s = data.shots.find(x => x.id === clip.dataset.id);
    drag = {kind: handle.classList.contains('in') ? 'in' : 'out', shot: s, x: event.clientX, node: clip, handle: handle};
    handle.classList.add('drag'); event.preventDefault(); return;
  }
  if (event.target.closest('.tl-audio') && data.audio && data.editable) {
    drag = {kind: 'audio', x: event.clientX, offset: data.audio.offset, moved: false}; event.preventDefault(); return;
  }
  if (clip) { selected = clip.dataset.id; clipsLane.querySelectorAll('.tl-clip').forEach(n => n.classList.toggle('selected', n.dataset.id === selected)); document.activeElement?.blur?.(); root.focus({preventScroll: true}); drawEdit(); }
  video.pause();
  seek(frameOf(event));
});
window.addEventListener('mousemove', (event) => {
  if (!drag) return;
  const delta = Math.round((event.clientX - drag.x) / ppf);
  if (drag.kind === 'audio') {
    drag.moved = drag.moved || delta !== 0;
    drag.value = Math.max(0, drag.offset + delta); drawAudio(drag.value); return;
  }
  const s = drag.shot;
  if (drag.kind === 'in') {
    drag.value = Math.max(0, Math.min(s.duration - s.trim_out - 1, s.trim_in + delta));
    const shift = drag.value - s.trim_in;
    drag.node.style.left = `${(s.start + shift) * ppf}px`; drag.node.style.width = `${(s.length - shift) * ppf}px`;
  } else {
    drag.value = Math.max(0, Math.min(s.duration - s.trim_in - 1, s.trim_out - delta));
    drag.node.style.width = `${(s.length - (drag.value - s.trim_out)) * ppf}px`;
  }
});
window.addEventListener('mouseup', () => {
  if (!drag) return;
  const d = drag; drag = null;
  if (d.handle) d.handle.classList.remove('drag');
  if (d.kind === 'audio') {
    if (d.moved && d.value !== undefined && d.value !== d.offset) send('audio', {changes: {offset: d.value}});
    else drawAudio();
    return;
  }
  if (d.value === undefined) return;
  const s = d.shot;
  if (d.kind === 'in' && d.value !== s.trim_in) send('trim', {id: s.id, trim_in: d.value, trim_out: s.trim_out});
  else if (d.kind === 'out' && d.value !== s.trim_out) send('trim', {id: s.id, trim_in: s.trim_in, trim_out: d.value});
  else drawClips();
});
clipEdit.addEventListener('change', (event) => {
  const s = data.shots.find(x => x.id === selected);
  if (!s) return;
  const value = cls => parseInt(clipEdit.querySelector(cls).value, 10);
  if (event.target.matches('.tl-in, .tl-out')) {
    send('trim', {id: s.id, trim_in: value('.tl-in'), trim_out: s.duration - value('.tl-out')});
  } else if (event.target.matches('.tl-take-level')) {
    send('take_level', {id: s.id, level: parseFloat(event.target.value)});
  } else if (event.target.matches('.tl-kind, .tl-len')) {
    const kind = clipEdit.querySelector('.tl-kind').value;
    let length = value('.tl-len') || 0;
    if (kind !== 'cut' && length < 1) length = Math.max(1, Math.round(data.rate / 2));
    send('transition', {id: s.id, kind: kind, length: kind === 'cut' ? 0 : length});
  }
});
clipEdit.addEventListener('input', (event) => {
  if (event.target.matches('.tl-take-level')) clipEdit.querySelector('.tl-take-level-db').textContent = `${event.target.value} dB`;
});
audioEdit.addEventListener('input', (event) => {
  if (event.target.matches('.tl-level')) {
    audioEdit.querySelector('.tl-level-db').textContent = `${event.target.value} dB`;
    if (data.audio) { data.audio = Object.assign({}, data.audio, {level: parseFloat(event.target.value)}); drawAudio(); }
  }
});
audioEdit.addEventListener('change', (event) => {
  if (event.target.matches('.tl-offset')) send('audio', {changes: {offset: parseInt(event.target.value, 10)}});
  if (event.target.matches('.tl-level')) send('audio', {changes: {level: parseFloat(event.target.value)}});
  if (event.target.matches('.tl-mute')) send('audio', {changes: {muted: event.target.checked}});
});
audioEdit.addEventListener('click', (event) => { if (event.target.matches('.tl-remove')) send('audio_remove', {}); });
const editRow = root.querySelector('.tl-edit');
editRow.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.target.matches('input')) { event.preventDefault(); event.target.blur(); }
});
editRow.addEventListener('focusout', () => setTimeout(() => { if (editStale && !editRow.contains(document.activeElement)) drawEdit(); }, 0));
root.addEventListener('keydown', (event) => {
  if (event.target.closest('input, select, textarea, button')) return;
  const last = Math.max(0, data.total_frames - 1);
  if (event.key === ' ') { event.preventDefault(); toggle(); return; }
  const to = {ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last}[event.key];
  if (to === undefined) return;
  event.preventDefault();
  video.pause();
  seek(to);
});
watch('value', () => draw(props.value));
draw(props.value);
"""


class TimelinePanel:
    """The Timeline tab's widgets (built inside the caller's ``gr.Tab``)."""

    def __init__(self, audio_suffixes: tuple[str, ...]) -> None:
        self.running = gr.Markdown("", elem_id="running-time")
        with gr.Row(equal_height=True):
            self.build = gr.Button("Build animatic", variant="primary", elem_id="build-animatic", scale=0, min_width=160)
            self.draft = gr.Checkbox(False, label="Draft: the fast 480 px preview (full resolution when off)",
                                     elem_id="animatic-draft", scale=1)
        self.track = gr.HTML(json.dumps({"shots": []}), html_template=TEMPLATE, css_template=CSS, js_on_load=JS,
                             elem_id="timeline-track")
        self.message = gr.Markdown("", elem_id="timeline-message")
        self.audio_upload = gr.File(label="Add or replace the scratch audio (wav, mp3, m4a, aac, flac, ogg)",
                                    file_types=list(audio_suffixes), type="filepath", elem_id="audio-upload")
        with gr.Accordion("Export", open=True, elem_id="export-panel"):
            self.formats = gr.CheckboxGroup([], label="Formats", elem_id="export-formats")
            with gr.Row():
                self.burn_ins = gr.CheckboxGroup(list(BURN_IN_LABELS), value=[], label="Burn-ins (MP4, preview, GIF)",
                                                 elem_id="export-burn-ins")
                self.watermark = gr.Textbox(label="Watermark text (blank: title and date)", elem_id="export-watermark")
            with gr.Row():
                self.per_page = gr.Radio(sorted(LAYOUTS), value=4, label="PDF panels per page", elem_id="export-per-page")
                self.fit = gr.Radio(list(FIT_MODES), value="cover", label="Takes of another size", elem_id="export-fit")
                self.include_audio = gr.Checkbox(True, label="Include the scratch audio", elem_id="export-audio")
                self.use_slates = gr.Checkbox(False, label="Slate for a missing take instead of failing",
                                              elem_id="export-slates")
            self.export = gr.Button("Export", variant="primary", elem_id="export-button")
            self.export_error = gr.Markdown("", elem_classes=["card-error"], elem_id="export-error")
            self.files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="export-files")
        with gr.Accordion("Import a re-cut from an editor", open=False, elem_id="recut-panel"):
            gr.Markdown("Export OTIO, FCP XML or EDL, change the cut in your editor (trims, order, removed "
                        "shots, dissolves), then bring the file back here: the changes are listed first and "
                        "applied to the board in one step (**Undo** takes it back).")
            self.recut_file = gr.File(label="Re-cut (.otio, .xml, .edl)", file_types=list(EDIT_SUFFIXES),
                                      type="filepath", elem_id="recut-file")
            self.recut_list = gr.Markdown("", elem_id="recut-list")
            self.recut_apply = gr.Button("Apply these changes", variant="primary", elem_id="recut-apply",
                                         interactive=False)
            self.recut_base = gr.State(None)


def _recut_text(lines: list[str]) -> str:
    head, *rest = lines
    return f"**{html.escape(head)}**  \n" + "  \n".join(html.escape(line.strip()) for line in rest) if rest \
        else f"**{html.escape(head)}**  \nNo changes: the re-cut matches the board."


def wire(ui: Any, panel: TimelinePanel, view: gr.State, shown: list[Any], edit_events: dict[str, Any],
         export_events: dict[str, Any], errors: tuple[type[Exception], ...]) -> None:
    """Track edits, the animatic, audio, exports and the re-cut; ``ui`` is the page's handlers
    (project, owner, refreshed, track_update)."""
    services, media = ui.services, ui.media

    def track_action(value: dict, event: gr.EventData) -> dict[Any, Any]:
        data = getattr(event, "_data", None) or {}
        action = data.get("action")
        base = data.get("base") if isinstance(data.get("base"), int) else None
        try:
            project = ui.project(value)
            if action == "trim":
                edits.patch_shot(project, str(data.get("id")), {"trim_in": data.get("trim_in"),
                                                                "trim_out": data.get("trim_out")}, base, ui.owner(value))
                message = "trimmed"
            elif action == "transition":
                changes = {"transition": data.get("kind")}
                if data.get("kind") != "cut":
                    changes["transition_frames"] = data.get("length")
                edits.patch_shot(project, str(data.get("id")), changes, base, ui.owner(value))
                message = "transition set"
            elif action == "take_level":
                edits.patch_shot(project, str(data.get("id")), {"take_audio_level": data.get("level")}, base,
                                 ui.owner(value))
                message = "take sound level set"
            elif action == "audio":
                edits.patch_audio(project, data.get("changes") or {}, base, ui.owner(value))
                message = "scratch audio changed"
            elif action == "audio_remove":
                edits.set_audio(project, None, ui.owner(value))
                message = "scratch audio removed (Undo brings it back)"
            else:
                return ui.unchanged()
        except errors as error:
            return {**ui.refreshed(value), panel.message: f"⚠ {html.escape(str(error))}"}
        return {**ui.refreshed(value, message=("saved", message)), panel.message: ""}

    panel.track.click(track_action, [view], shown + [panel.message], **{**edit_events, "trigger_mode": "multiple",
                                                                           "concurrency_limit": 1,
                                                                           "concurrency_id": "wall"})

    def build(value: dict, draft: bool) -> dict[Any, Any]:
        try:
            project = ui.project(value, VIEWER)
            revision = services.board(project).revision
            path = services.export(ui.project(value), "preview" if draft else "mp4", warn=gr.Info,
                                   options={"burn_ins": []})
        except Exception as error:  # noqa: BLE001 - any export failure is shown, not raised
            gr.Warning(f"Animatic failed: {error}")
            return {panel.message: f"⚠ Animatic failed: {html.escape(str(error))}"}
        url = f"/gradio_api/file={media.public_video(path)}"
        return {panel.track: ui.track_update(value, video=url, video_rev=revision), panel.message: ""}

    panel.build.click(build, [view, panel.draft], [panel.track, panel.message], **export_events)

    def export(value: dict, chosen: list[str], burn_ins: list[str], watermark: str, per_page: int, fit: str,
               include_audio: bool, use_slates: bool, progress: gr.Progress = gr.Progress()):
        if not chosen:
            return gr.skip(), "⚠ pick at least one format"
        options = {"burn_ins": list(burn_ins or []), "watermark": watermark.strip() or None,
                   "per_page": int(per_page or 4), "fit": fit or "cover", "include_audio": bool(include_audio),
                   "use_slates": bool(use_slates)}
        try:
            project = ui.project(value)
        except errors as error:
            return gr.skip(), f"⚠ {html.escape(str(error))}"
        files, problems = [], []
        for position, fmt in enumerate(chosen):
            def report(done: int, total: int, message: str, position: int = position, fmt: str = fmt) -> None:
                progress((position + (done / total if total else 0)) / len(chosen), desc=f"{fmt}: {message}")
            try:
                files.append(media.publish(services.export(project, fmt, warn=gr.Info, options=options,
                                                           progress=report)))
            except Exception as error:  # noqa: BLE001 - report every format's failure
                problems.append(f"{fmt}: {error}")
        if problems:
            gr.Warning("; ".join(problems))
        return files, "  \n".join(f"⚠ {html.escape(p)}" for p in problems)

    panel.export.click(export, [view, panel.formats, panel.burn_ins, panel.watermark, panel.per_page, panel.fit,
                                panel.include_audio, panel.use_slates], [panel.files, panel.export_error],
                       **export_events)

    def add_audio(value: dict, file_path: str | None) -> dict[Any, Any]:
        if not file_path:
            return {panel.message: gr.skip()}
        try:
            edits.set_audio(ui.project(value), Path(file_path), ui.owner(value))
        except (ValueError, OSError) + errors as error:
            return {panel.audio_upload: None, panel.message: f"⚠ Audio refused: {html.escape(str(error))}"}
        return {**ui.refreshed(value, message=("saved", "scratch audio added")), panel.audio_upload: None,
                panel.message: "Scratch audio laid under the cut from frame 0: drag its waveform to move it."}

    panel.audio_upload.upload(add_audio, [view, panel.audio_upload], shown + [panel.audio_upload, panel.message],
                              **edit_events)

    def recut(applying: bool) -> Callable:
        def run(value: dict, file_path: str | None, base: int | None) -> dict[Any, Any]:
            if not file_path:
                return {panel.recut_list: "", panel.recut_apply: gr.update(interactive=False), panel.recut_base: None}
            path = Path(file_path)
            try:
                if path.stat().st_size > MAX_EDIT_BYTES:
                    raise RecutError(f"{path.name}: larger than {MAX_EDIT_BYTES // 2**20} MB")
                project = ui.project(value, EDITOR if applying else VIEWER)
                result = import_edit(project, path.read_bytes(), path.name, ui.owner(value), dry_run=not applying,
                                     base_revision=base if applying else None)
            except (RecutError, OSError, edits.EditConflict) + errors as error:
                return {panel.recut_list: f"⚠ {html.escape(str(error))}; the board is unchanged.",
                        panel.recut_apply: gr.update(interactive=False)}
            text = _recut_text(result.plan.lines())
            if applying:
                return {**ui.refreshed(value, message=("saved", "re-cut applied")),
                        panel.recut_list: text + f"  \n**Applied** (revision {result.board.revision}); Undo takes it back.",
                        panel.recut_apply: gr.update(interactive=False), panel.recut_base: None}
            usable = bool(result.plan.changes) and not result.plan.problems
            return {panel.recut_list: text, panel.recut_apply: gr.update(interactive=usable),
                    panel.recut_base: result.plan.base_revision}
        return run

    extra = [panel.recut_list, panel.recut_apply, panel.recut_base]
    panel.recut_file.upload(recut(False), [view, panel.recut_file, panel.recut_base], shown + extra, **edit_events)
    panel.recut_file.clear(recut(False), [view, panel.recut_file, panel.recut_base], shown + extra, **edit_events)
    panel.recut_apply.click(recut(True), [view, panel.recut_file, panel.recut_base], shown + extra, **edit_events)

