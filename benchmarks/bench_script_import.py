"""Importing a 10-page screenplay: what a user waits for from the CLI, against parsing alone.

A deterministic 10-page Fountain script (about 55 lines a page: 14 scenes, action paragraphs,
about 170 speeches, parentheticals, a dual-dialogue block, notes, boneyard) is written to a temp
folder, then timed, medians of N runs, in this process:
- parse: fountain-py's FountainParser on the text (the reference: the floor of any import);
- read: studio.screenplay.read_script (parse + our pass for inline notes);
- import: studio.services.script_import.import_script into a fresh project at each granularity
  (read, plan, save board.json atomically, history entry);
- cli: `python -m studio import-script` as a subprocess (includes Python start-up).

Run: python benchmarks/bench_script_import.py [--runs 5]. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the lamp the sea a letter old rope harbour wind light stairs door glass night keeper "
         "storm gull salt dark morning voice bell rock boat").split()


def screenplay(scenes: int = 14) -> str:
    """About ten pages of Fountain, the same every run."""
    lines = ["Title: Benchmark Draft", "Author: bench_script_import", "", "FADE IN:", ""]
    cast = ["ADA", "TOM", "MARA", "JONAS"]
    n = 0
    for scene in range(1, scenes + 1):
        place = ("INT. LIGHTHOUSE - NIGHT", "EXT. CLIFF PATH - DAWN", "INT. HARBOUR PUB - DAY")[scene % 3]
        lines += [f"{place} #{scene}#", "", f"= Scene {scene} moves the story on.", ""]
        for beat in range(4):
            n += 1
            action = " ".join(WORDS[(n * 7 + k) % len(WORDS)] for k in range(24)).capitalize() + "."
            lines += [action + (f" [[note {n}]]" if beat == 1 else ""), ""]
            for speech in range(3):
                who = cast[(n + speech) % len(cast)]
                text = " ".join(WORDS[(n * 3 + speech * 5 + k) % len(WORDS)] for k in range(9)).capitalize() + "."
                lines += [who] + (["(quietly)"] if speech == 1 else []) + [text, ""]
        if scene == 3:
            lines += ["ADA", "Now!", "", "TOM ^", "Now!", ""]
        if scene == 5:
            lines += ["/* a cut beat", "INT. NOWHERE - DAY", "*/", ""]
        lines += ["CUT TO:", ""]
    return "\n".join(lines)


def median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from fountain import FountainParser

    from studio.board import Board
    from studio.screenplay import read_script
    from studio.services.script_import import ImportOptions, import_script
    from studio.storage import Project

    text = screenplay()
    data = text.encode()
    pages = len(text.splitlines()) / 55
    rows = [("parse (fountain-py FountainParser, reference)", median(lambda: FountainParser().parse(text), args.runs), "")]
    rows.append(("read_script (parse + inline notes)", median(lambda: read_script(data, "bench.fountain"), args.runs), ""))
    with tempfile.TemporaryDirectory() as folder:
        for granularity in ("scene", "action", "exchange"):
            counter = iter(range(1000))
            shots = []

            def run() -> None:
                project = Project.create(Path(folder) / f"{granularity}-{next(counter)}", Board())
                result = import_script(project, data, "bench.fountain", ImportOptions(granularity=granularity, cap=50))
                shots.append(len(result.board.shots))

            rows.append((f"import_script, {granularity} granularity", median(run, args.runs), f"{shots[-1]} shots"))
        script = Path(folder) / "bench.fountain"
        script.write_text(text)
        counter = iter(range(1000))

        def cli() -> None:
            target = Path(folder) / f"cli-{next(counter)}"
            Project.create(target, Board())
            subprocess.run([sys.executable, "-m", "studio", "import-script", str(target), str(script)],
                           check=True, capture_output=True)

        rows.append(("studio import-script (subprocess, action)", median(cli, args.runs), ""))
    scenes = len(read_script(data, "bench.fountain").scenes)
    print(f"{len(text.splitlines())} lines (~{pages:.1f} pages at 55 lines), {scenes} scenes; "
          f"median of {args.runs}; load average {os.getloadavg()[0]:.1f}")
    print("| step | median (s) | ratio to parse | result |\n|---|---:|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / rows[0][1]:.1f}x | {note} |")


if __name__ == "__main__":
    main()
