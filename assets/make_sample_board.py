"""Draw the sample board's keyframes and write assets/sample-board/board.json.

Every image is painted here from gradients, shapes and seeded noise, so the project owns all of
it. Run `python assets/make_sample_board.py` to rebuild; the output is deterministic.

The story, "The Keeper's Letter": a lighthouse keeper receives a letter as a storm rolls in,
and lights the lamp in time to bring a small boat home.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from studio.board import SCHEMA_VERSION

OUT = Path(__file__).resolve().parent / "sample-board"
WIDTH, HEIGHT = 1280, 720


def gradient(top: tuple[int, int, int], bottom: tuple[int, int, int], height: int = HEIGHT) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    column = (1 - t) * np.array(top) + t * np.array(bottom)
    return np.repeat(column, WIDTH, axis=1)


def grain(image: np.ndarray, seed: int, amount: float = 10.0) -> np.ndarray:
    """Film grain plus soft blotches: texture everywhere, so camera motion is always visible."""
    rng = np.random.default_rng(seed)
    fine = rng.normal(0.0, amount, image.shape[:2])
    coarse = Image.fromarray(rng.normal(128, 60, (HEIGHT // 24, WIDTH // 24)).clip(0, 255).astype(np.uint8))
    coarse = np.asarray(coarse.resize((WIDTH, HEIGHT), Image.BICUBIC), dtype=np.float64) - 128
    return np.clip(image + (fine + coarse * 0.12)[..., None], 0, 255)


def to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def sea(image: Image.Image, horizon: int, seed: int, colour: tuple[int, int, int]) -> None:
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(seed)
    draw.rectangle([0, horizon, WIDTH, HEIGHT], fill=colour)
    for _ in range(260):
        y = int(rng.uniform(horizon + 4, HEIGHT))
        x = int(rng.uniform(-50, WIDTH))
        length = int(12 + (y - horizon) * rng.uniform(0.1, 0.5))
        shade = tuple(int(c * rng.uniform(1.1, 1.5)) for c in colour)
        draw.line([x, y, x + length, y], fill=shade, width=max(1, (y - horizon) // 60))


def lighthouse(draw: ImageDraw.ImageDraw, x: int, base: int, height: int, lit: bool) -> None:
    top = base - height
    half_base, half_top = height * 0.09, height * 0.06
    draw.polygon([(x - half_base, base), (x + half_base, base), (x + half_top, top), (x - half_top, top)],
                 fill=(235, 230, 220))
    for stripe in range(1, 4):
        y0 = base - height * stripe / 4
        y1 = y0 + height / 10
        w0 = half_base - (half_base - half_top) * stripe / 4
        draw.polygon([(x - w0, y1), (x + w0, y1), (x + w0 * 0.97, y0), (x - w0 * 0.97, y0)], fill=(170, 40, 40))
    draw.rectangle([x - half_top * 1.2, top - height * 0.1, x + half_top * 1.2, top],
                   fill=(255, 230, 140) if lit else (60, 60, 70))
    draw.polygon([(x - half_top * 1.5, top - height * 0.1), (x + half_top * 1.5, top - height * 0.1),
                  (x, top - height * 0.2)], fill=(40, 40, 45))


def establishing() -> Image.Image:
    image = to_image(grain(gradient((40, 50, 95), (235, 140, 90)), 1))
    sea(image, 470, 2, (30, 50, 80))
    draw = ImageDraw.Draw(image)
    draw.ellipse([850, 330, 990, 470], fill=(255, 200, 120))
    draw.polygon([(0, 720), (0, 420), (180, 400), (420, 450), (560, 560), (600, 720)], fill=(35, 35, 40))
    lighthouse(draw, 260, 410, 300, lit=False)
    return image


def window() -> Image.Image:
    image = to_image(grain(gradient((70, 60, 55), (40, 32, 30)), 3, 8))
    draw = ImageDraw.Draw(image)
    draw.rectangle([420, 120, 860, 560], fill=(25, 25, 30))
    outside = to_image(grain(gradient((60, 70, 110), (150, 110, 100)), 4)).crop((0, 0, 420, 420))
    image.paste(outside, (430, 130))
    draw.line([640, 130, 640, 550], fill=(25, 25, 30), width=10)
    draw.line([430, 340, 850, 340], fill=(25, 25, 30), width=10)
    draw.ellipse([560, 250, 660, 350], fill=(20, 18, 18))                     # head
    draw.rounded_rectangle([520, 340, 700, 620], 40, fill=(20, 18, 18))      # shoulders
    return image


def letter() -> Image.Image:
    image = to_image(grain(gradient((110, 75, 45), (80, 52, 30)), 5, 6))
    draw = ImageDraw.Draw(image)
    for y in range(0, HEIGHT, 48):                                           # desk planks
        draw.line([0, y, WIDTH, y + 6], fill=(70, 45, 28), width=3)
    draw.polygon([(380, 170), (900, 140), (940, 600), (400, 630)], fill=(238, 228, 205))
    for row in range(11):
        y = 210 + row * 34
        draw.line([440, y + row, 870, y - 4 + row], fill=(90, 90, 110), width=3)
    draw.ellipse([1000, 430, 1100, 470], fill=(230, 220, 200))                # candle
    draw.rectangle([1030, 300, 1070, 450], fill=(240, 235, 220))
    glow = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(glow).ellipse([960, 180, 1140, 330], fill=200)
    glow = glow.filter(ImageFilter.GaussianBlur(40))
    image = Image.composite(Image.new("RGB", (WIDTH, HEIGHT), (255, 210, 120)), image, glow)
    ImageDraw.Draw(image).ellipse([1040, 260, 1060, 300], fill=(255, 240, 180))
    return image


def boat(far: bool) -> Image.Image:
    image = to_image(grain(gradient((35, 40, 60), (85, 90, 110)), 6 if far else 7))
    sea(image, 380, 8, (25, 35, 55))
    draw = ImageDraw.Draw(image)
    scale = 0.35 if far else 1.0
    cx, cy = (820, 400) if far else (640, 470)
    hull = [(-160, 0), (160, 0), (120, 60), (-120, 60)]
    draw.polygon([(cx + x * scale, cy + y * scale) for x, y in hull], fill=(120, 60, 40))
    draw.line([cx, cy, cx, cy - 220 * scale], fill=(200, 200, 200), width=max(2, int(8 * scale)))
    draw.polygon([(cx + 6 * scale, cy - 210 * scale), (cx + 130 * scale, cy - 20 * scale), (cx + 6 * scale, cy - 20 * scale)],
                 fill=(225, 220, 205))
    lighthouse(draw, 150, 385, 120, lit=True)
    return image


def lamp() -> Image.Image:
    image = to_image(grain(gradient((30, 28, 26), (15, 14, 13)), 9, 6))
    draw = ImageDraw.Draw(image)
    cx, cy = WIDTH // 2, HEIGHT // 2
    for ring in range(9, 0, -1):
        r = ring * 36
        shade = 120 + ring * 14
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(shade, shade - 20, shade - 70), width=10)
    for spoke in range(12):
        angle = spoke * math.pi / 6
        draw.line([cx, cy, cx + 330 * math.cos(angle), cy + 330 * math.sin(angle)], fill=(90, 80, 60), width=4)
    draw.ellipse([cx - 60, cy - 60, cx + 60, cy + 60], fill=(255, 235, 160))
    return image


def beam() -> Image.Image:
    image = to_image(grain(gradient((10, 14, 30), (40, 48, 70)), 10))
    sea(image, 450, 11, (18, 26, 42))
    draw = ImageDraw.Draw(image, "RGBA")
    draw.polygon([(230, 240), (1280, 120), (1280, 420)], fill=(255, 240, 190, 90))
    draw.polygon([(0, 720), (0, 330), (160, 300), (380, 380), (470, 720)], fill=(20, 20, 24, 255))
    lighthouse(ImageDraw.Draw(image), 230, 330, 190, lit=True)
    draw.polygon([(960, 455), (1060, 455), (1040, 475), (980, 475)], fill=(120, 60, 40, 255))
    return image


SHOTS = [
    dict(id="sh_cliff", title="The lighthouse at dusk", duration=72,
         prompt="wide establishing shot of a red and white lighthouse on a dark cliff at dusk, calm sea, low sun",
         camera=[{"move": "crane_down", "intensity": 0.5, "easing": "ease_in_out"}],
         keyframes=[{"role": "first", "path": "keyframes/01-cliff.jpg", "frame": 0}],
         notes="Hold on the lighthouse; the lamp is still dark.", seed=1101, image=establishing),
    dict(id="sh_window", title="The keeper at the window", duration=48,
         prompt="silhouette of an old lighthouse keeper at a window, dusk light, interior",
         camera=[{"move": "pan_right", "intensity": 0.4, "easing": "ease_in_out"}],
         keyframes=[{"role": "first", "path": "keyframes/02-window.jpg", "frame": 0}],
         dialogue="Storm's early this year.", seed=1102, image=window),
    dict(id="sh_letter", title="Insert: the letter", duration=60,
         prompt="close-up of a handwritten letter on a wooden desk lit by a candle",
         camera=[{"move": "dolly_in", "intensity": 0.6, "easing": "ease_out"}],
         keyframes=[{"role": "first", "path": "keyframes/03-letter.jpg", "frame": 0}],
         notes="Insert. The letter says the supply boat is coming tonight.", seed=1103, image=letter,
         transition={"kind": "dip_to_black", "length": 12}),
    dict(id="sh_face", title="Close-up: the keeper reads", duration=36,
         prompt="extreme close-up of a weathered face reading by candlelight, eyes widening",
         camera=[{"move": "handheld", "intensity": 0.3, "easing": "linear"}],
         keyframes=[], dialogue="Tonight? In this?", seed=1104, image=None),
    dict(id="sh_boat", title="Reverse: the boat in the swell", duration=54,
         prompt="small sailing boat in a rising swell at night, distant lighthouse on the left",
         camera=[{"move": "truck_left", "intensity": 0.5, "easing": "ease_in_out"}],
         keyframes=[{"role": "first", "path": "keyframes/05-boat-far.jpg", "frame": 0},
                    {"role": "last", "path": "keyframes/05-boat-near.jpg", "frame": 53}],
         notes="Reverse angle from the sea. First and last keyframes: the boat comes closer.", seed=1105,
         image=lambda: boat(True), last_image=lambda: boat(False)),
    dict(id="sh_lamp", title="Insert: the lamp turns", duration=30,
         prompt="macro shot of a lighthouse fresnel lens rotating, lamp igniting, golden glow",
         camera=[{"move": "roll_cw", "intensity": 0.6, "easing": "ease_in"},
                 {"move": "zoom_in", "intensity": 0.3, "easing": "ease_in"}],
         keyframes=[{"role": "first", "path": "keyframes/06-lamp.jpg", "frame": 0}],
         seed=1106, image=lamp),
    dict(id="sh_beam", title="The beam finds the boat", duration=96,
         prompt="wide night shot, lighthouse beam sweeping over a dark sea and finding a small boat",
         camera=[{"move": "dolly_out", "intensity": 0.5, "easing": "ease_in_out"}],
         keyframes=[{"role": "first", "path": "keyframes/07-beam.jpg", "frame": 0}],
         dialogue="(V.O.) Come on home.", seed=1107, image=beam,
         transition={"kind": "cross_dissolve", "length": 12}),
]


def main() -> None:
    (OUT / "keyframes").mkdir(parents=True, exist_ok=True)
    shots = []
    for spec in SHOTS:
        spec = dict(spec)
        painters = {"first": spec.pop("image"), "last": spec.pop("last_image", None)}
        for keyframe in spec["keyframes"]:
            painters[keyframe["role"]]().save(OUT / keyframe["path"], quality=88, optimize=True)
        spec.setdefault("transition", {"kind": "cut", "length": 0})
        shots.append({"negative_prompt": "blurry, low quality, watermark, text", "seed_locked": True, **spec})
    board = {
        "schema_version": SCHEMA_VERSION,
        "title": "The Keeper's Letter",
        "fps": "24",
        "width": 832,
        "height": 480,
        "default_backend": "animatic",
        "default_model": None,
        "fade_in": 12,
        "fade_out": 24,
        "shots": shots,
    }
    (OUT / "board.json").write_text(json.dumps(board, indent=2) + "\n")
    for folder in ("takes", "exports", "audio"):
        (OUT / folder).mkdir(exist_ok=True)
        (OUT / folder / ".gitkeep").touch()


if __name__ == "__main__":
    main()
