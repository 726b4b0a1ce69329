"""Start the browser app: options, the exposure check, the Gradio server.

The options are checked before Gradio is imported, so a refused start (``--listen`` without
``--auth``) fails in a fraction of a second with a message saying what to add.

Entry points: ``python app.py [options]``, ``studio serve [options]`` (through
:func:`add_arguments` and :func:`run`), and :func:`start` for tests and embedding.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
STATE_FOLDER = "state"
"""Under the workspace: the job queue's persisted state (one server per workspace)."""
MAX_UPLOAD = "60mb"
"""Gradio's own upload cap; keyframes are further limited by studio.images.MAX_BYTES."""


class ServeError(Exception):
    """The app refuses to start as asked; the message says what to change."""


@dataclass(frozen=True)
class ServeOptions:
    project: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    share: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    backend: str | None = None
    device: str | None = None
    home: Path | None = None
    cluster: str | None = None
    """"ray": render on a Ray farm (services/farm.py) instead of this machine's one lane."""
    farm_address: str | None = None
    farm_workers: int | None = None
    farm_output: str = "shared"

    @property
    def exposed(self) -> bool:
        return self.share or self.host not in ("127.0.0.1", "localhost", "::1")

    @property
    def shared(self) -> bool:
        """A server for a team (a login, or reachable beyond this computer): projects are ids in
        the workspace, owned and shared per user; clients never name a folder."""
        return self.exposed or bool(self.auth)

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(user for user, _ in self.auth))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The serve options, shared by app.py and `studio serve`."""
    parser.add_argument("--project", type=Path, default=None,
                        help="project folder to open (created if missing); default: the last one, "
                             "or a copy of the sample board on first start. With a login, the folder "
                             "joins the workspace, owned by the first user of --auth/--auth-file")
    parser.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                        help="where projects, the project list with owners and shares, and the job "
                             "queue's state live (default: $PREVIZ_HOME, else ~/.local/share/previz-studio)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--listen", nargs="?", const="0.0.0.0", default=None, metavar="ADDRESS",
                        help="accept connections from other machines (default address 0.0.0.0); needs --auth")
    parser.add_argument("--share", action="store_true", help="make a public Gradio share link; needs --auth")
    parser.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                        help="require this login (needed for --listen and --share)")
    parser.add_argument("--auth-file", type=Path, default=None,
                        help="file with one USER:PASSWORD per line (needed for --listen and --share)")
    parser.add_argument("--backend", default=None, help="render every shot with this backend (e.g. animatic)")
    parser.add_argument("--device", default=None, help="device for diffusion backends (cuda, cuda:1, cpu)")
    parser.add_argument("--cluster", choices=("ray",), default=None,
                        help="render on a Ray farm: the cluster in $RAY_ADDRESS (or --address), else a local "
                             "one on 127.0.0.1 (needs pip install -e \".[farm]\")")
    parser.add_argument("--address", default=None, help="the Ray cluster's address (default: $RAY_ADDRESS)")
    parser.add_argument("--workers", type=int, default=None,
                        help="farm workers (default: one per GPU of the cluster, else 2 CPU workers)")
    parser.add_argument("--farm-output", choices=("shared", "bytes"), default="shared",
                        help="shared: projects are on a filesystem every node mounts; bytes: workers send "
                             "clips back and this server writes them")


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    """Validated options; ServeError when exposure is asked for without a login."""
    credentials: list[tuple[str, str]] = []
    if args.auth:
        credentials.append(_credential(args.auth, "--auth"))
    if args.auth_file:
        try:
            lines = args.auth_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ServeError(f"--auth-file {args.auth_file}: cannot read it ({error.strerror})") from None
        credentials += [_credential(line, str(args.auth_file)) for line in lines if line.strip()]
    if not 1 <= args.port <= 65535:
        raise ServeError(f"--port must be from 1 to 65535, got {args.port}")
    options = ServeOptions(
        project=args.project, host=args.listen or DEFAULT_HOST, port=args.port, share=args.share,
        auth=tuple(credentials), backend=args.backend, device=args.device,
        home=getattr(args, "workspace", None), cluster=getattr(args, "cluster", None),
        farm_address=getattr(args, "address", None), farm_workers=getattr(args, "workers", None),
        farm_output=getattr(args, "farm_output", "shared"),
    )
    if options.exposed and not options.auth:
        what = "--share" if options.share else f"--listen {options.host}"
        raise ServeError(
            f"refusing to start: {what} would let anyone who can reach this machine open and change "
            "your projects. Add --auth USER:PASSWORD or --auth-file FILE, or drop "
            f"{'--share' if options.share else '--listen'} to serve only this computer (127.0.0.1)."
        )
    if options.backend is not None:
        from studio.backends import BACKENDS

        if options.backend not in BACKENDS:
            raise ServeError(f"--backend {options.backend!r} is not a backend; available: {', '.join(BACKENDS)}")
    return options


def _credential(text: str, source: str) -> tuple[str, str]:
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise ServeError(f"{source}: expected USER:PASSWORD, got {'a line without a colon' if not sep else 'an empty part'}")
    return user, password


def build(options: ServeOptions) -> tuple[Any, Any, Any]:
    """The services, the served-copies folder and their Blocks (not launched)."""
    from studio.services.access import Access
    from studio.services.app import StudioServices
    from studio.services.jobs import JobQueue
    from studio.services.workspace import Workspace
    from studio.storage import Project
    from studio.ui.layout import build_ui
    from studio.ui.serving import MediaCache

    workspace = Workspace(options.home)
    access = Access(workspace, shared=options.shared, users=options.users)
    project: Project | None = None
    if not options.shared:
        project = workspace.startup_project(options.project)
    elif options.project is not None:  # the operator's folder, theirs to share from the UI
        folder = options.project.expanduser()
        project = Project.open(folder) if (folder / "board.json").exists() else Project.create(folder)
        access.adopt(project, f"user:{options.users[0]}")
    farm = start_farm(options)
    try:
        jobs = JobQueue(state_dir=workspace.home / STATE_FOLDER, lanes=farm.size if farm else 1)
    except BaseException:
        if farm is not None:
            farm.close()
        raise
    try:
        services = StudioServices(workspace, backend=options.backend, device=options.device, jobs=jobs,
                                  access=access, farm=farm)
    except BaseException:
        jobs.close()
        if farm is not None:
            farm.close()
        raise
    media = MediaCache()
    services.closing(media.close)
    services.served_copies = media  # for tests and embedders that check what the browser is served
    demo = build_ui(services, media, project)
    demo.queue(max_size=256, default_concurrency_limit=4)
    return services, media, demo


def start_farm(options: ServeOptions) -> Any:
    """The Ray render farm the options ask for, or None (renders run on this machine)."""
    if options.cluster is None:
        return None
    from studio.services.farm import Farm, FarmError, FarmSettings

    try:
        return Farm(FarmSettings(address=options.farm_address, workers=options.farm_workers,
                                 output=options.farm_output))
    except FarmError as error:
        raise ServeError(str(error)) from None


def start(options: ServeOptions, *, block: bool = False, quiet: bool = False) -> tuple[Any, Any, str]:
    """Build and launch; returns (services, blocks, url). With block, serves until interrupted."""
    from studio.ui.views import CSS

    services, media, demo = build(options)
    _, url, _ = demo.launch(
        server_name=options.host, server_port=options.port, share=options.share,
        auth=list(options.auth) or None, prevent_thread_lock=True, quiet=quiet,
        max_file_size=MAX_UPLOAD, css=CSS, footer_links=["api"], show_error=True,
        ssr_mode=False, allowed_paths=[str(media.public)],
    )
    threading.Thread(target=_warm_up, name="previz-warm-up", daemon=True).start()
    if block:
        try:
            _block_until_stopped(demo)
        finally:
            services.close()
    return services, demo, url


def _block_until_stopped(demo: Any) -> None:
    """Serve until Ctrl-C (or SIGTERM, see stop_on_sigterm), then close the app.

    Why not Gradio's ``block_thread``: on Ctrl-C it closes the HTTP server without ending the
    open pages' and clients' heartbeat streams, so every stop with one connected waited out
    uvicorn's 5 s join. ``Blocks.close`` ends those streams first and stops in a fraction of a second.
    """
    try:
        while demo.is_running:
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("Stopping: closing the server.")
    finally:
        demo.close()


def _warm_up() -> None:
    """Import the render and export stacks after the page is up, not before, so the first
    start is fast and the first click does not pay for cv2/OpenTimelineIO imports."""
    import importlib

    for module in ("studio.services.export", "studio.services.render", "studio.backends.animatic"):
        try:
            importlib.import_module(module)
        except ImportError:
            continue


def run(args: argparse.Namespace) -> int:
    """`studio serve` / app.py body: 0 after a clean stop, 1 when the project cannot be opened,
    2 when the options are refused."""
    try:
        options = options_from_args(args)
    except ServeError as error:
        print(f"previz-studio: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from studio.board import BoardError
    from studio.services.jobs import QueueStateError
    from studio.storage import ProjectError
    from studio.ui.serving import stop_on_sigterm

    stop_on_sigterm()  # a SIGTERM stops as Ctrl-C does: the queue is saved, temp folders removed
    try:
        start(options, block=True)
    except (ProjectError, BoardError) as error:
        print(f"previz-studio: cannot open the project: {error}", file=sys.stderr)
        return 1
    except (QueueStateError, ServeError) as error:
        print(f"previz-studio: {error}", file=sys.stderr)
        return 1
    return 0


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and serve."""
    parser = argparse.ArgumentParser(prog="app.py", description="Previz Studio in the browser")
    add_arguments(parser)
    return run(parser.parse_args(argv))
