"""GridCommand: run the command center, or manage its data.

    python run.py                      serve the live demo street on http://127.0.0.1:8050
    python run.py --help               options and subcommands
"""
from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from dashboard.config import Settings

log = logging.getLogger("gridcommand")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run.py", description="GridCommand command center (网格化服务管理指挥中心)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8050)")
    p.add_argument("--db", dest="db_url", help="database URL (default sqlite:///var/gridcommand.db; "
                                               "postgresql+psycopg://user@host/db at scale)")
    p.add_argument("--no-sim", action="store_true", help="do not run the live simulator")
    p.add_argument("--sim-speed", type=float, help="simulator acceleration factor (default 1)")
    p.add_argument("--seed", type=int, dest="sim_seed", help="simulator seed (default 20261129)")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve (the default)")
    sub.add_parser("init-db", help="create or migrate the database schema")
    sd = sub.add_parser("seed-demo", help="load the demo street (西一路街道) into an empty database")
    sd.add_argument("--dir", type=Path, help="folder with the demo files (default data/xiyilu)")
    ig = sub.add_parser("import-grids", help="import grids from GeoJSON, GeoPackage or Shapefile")
    ig.add_argument("file", type=Path)
    iw = sub.add_parser("import-workers", help="import grid workers from CSV or Excel")
    iw.add_argument("file", type=Path)
    ak = sub.add_parser("create-api-key", help="create an API key (printed as the last line)")
    ak.add_argument("--name", required=True)
    ak.add_argument("--role", required=True)
    return p


def fail(message: str) -> "None":
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def open_services(settings: Settings):
    """Create the app and bring the schema up to date; DB problems become one line."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.app import create_app
    from dashboard.db import migrate

    try:
        app, services = create_app(settings)
        migrate(services.db.engine)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot open the database {settings.db_url}: {str(exc).splitlines()[0]}")
    return app, services


def seed_if_empty(services, demo_dir: Path | None = None) -> bool:
    from dashboard.db import is_empty
    from dashboard.services.importers import load_demo

    if not is_empty(services.db.engine):
        return False
    with services.db.write() as s:
        counts = load_demo(s, demo_dir or services.settings.demo_dir)
    log.info("loaded the demo street: %s", counts)
    services.reload_grids()
    return True


def serve(settings: Settings) -> None:
    if not port_free(settings.host, settings.port):
        fail(f"port {settings.port} on {settings.host} is already in use; choose another with --port")
    app, services = open_services(settings)
    seed_if_empty(services)
    from layouts.app import create_dash
    from callbacks import register_all

    dash_app = create_dash(app, services)
    register_all(dash_app, services)
    services.start_background()
    log.info("serving on http://%s:%d (simulator %s)", settings.host, settings.port,
             "on" if settings.simulate else "off")
    try:
        services.socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True,
                              use_reloader=False, log_output=False)
    finally:
        services.shutdown()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = Settings.from_env(host=args.host, port=args.port, db_url=args.db_url, sim_speed=args.sim_speed,
                                 sim_seed=args.sim_seed, simulate=False if args.no_sim else None)
    cmd = args.command or "serve"
    if cmd == "serve":
        return serve(settings)
    from dashboard.services.importers import ImportProblem

    _, services = open_services(settings)
    try:
        if cmd == "init-db":
            print(f"schema is up to date in {settings.db_url}")
        elif cmd == "seed-demo":
            if not seed_if_empty(services, args.dir):
                fail("the database already holds grids; seed-demo only loads into an empty database")
            print("demo street loaded")
        elif cmd == "import-grids":
            from dashboard.services.importers import import_grids

            with services.db.write() as s:
                print(f"grids: {import_grids(s, args.file)}")
        elif cmd == "import-workers":
            from dashboard.services.importers import import_workers

            with services.db.write() as s:
                print(f"workers: {import_workers(s, args.file)}")
        elif cmd == "create-api-key":
            from dashboard.services.apikeys import create_api_key

            with services.db.write() as s:
                _, key = create_api_key(s, name=args.name, role=args.role)
            print(key)
    except ImportProblem as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    finally:
        services.shutdown()


if __name__ == "__main__":
    main()
