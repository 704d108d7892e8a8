"""GridCommand: run the command center, or manage its data.

    python run.py                      serve the live demo street on http://127.0.0.1:8050 (gevent: each live
                                       socket a greenlet, thousands of phones on one process)
    python run.py --no-gevent          the same on Werkzeug's threads (four OS threads a live socket)
    python run.py --help               options and subcommands
"""
from __future__ import annotations

import os
import sys

# Serving: patch the standard library before anything imports it (threading, sockets, queues), so one process
# holds thousands of live sockets: gevent's WSGI server gives each connection a greenlet instead of OS threads,
# the writers' FairLock and the background loops become cooperative (CPU-bound work goes through
# dashboard/offload.py). --no-gevent keeps Werkzeug's threads. The other commands run unpatched.
_SUBCOMMANDS = {"init-db", "seed-demo", "import-grids", "import-workers", "prod", "gen-city", "create-api-key",
                "resident-links"}
GEVENT = (__name__ == "__main__" and "--no-gevent" not in sys.argv[1:]
          and not _SUBCOMMANDS.intersection(sys.argv[1:]) and not {"-h", "--help"} & set(sys.argv[1:]))
if GEVENT:
    from gevent import monkey

    monkey.patch_all()
    # a held socket costs a greenlet: the cap is a gevent worker's (run.py prod), not a thread server's
    os.environ.setdefault("GC_SOCKET_MAX", "10000")

import argparse  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

from dashboard.config import Settings, SettingsError  # noqa: E402
from server import build_server, fail, open_services, production_problems, seed_if_empty  # noqa: E402

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
    p.add_argument("--sim-hour", type=_hour, help="simulate the street at this local hour (0-24, e.g. 15: the "
                                                 "afternoon shifts, 476 of 490 workers out) whatever the clock says")
    p.add_argument("--osmand", action="store_true", help="also serve OsmAnd/Traccar positions on a dedicated port "
                                                        "(default 5055)")
    p.add_argument("--osmand-port", type=int, help="the dedicated OsmAnd/Traccar port (implies --osmand)")
    p.add_argument("--no-gevent", action="store_true",
                   help="serve on Werkzeug's threads instead of gevent's greenlets (four OS threads a live socket: "
                        "about 2,000 phones at most)")
    p.add_argument("--gevent", action="store_true", help=argparse.SUPPRESS)  # the default since issue 26
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve (the default)")
    sub.add_parser("init-db", help="create or migrate the database schema")
    sd = sub.add_parser("seed-demo", help="load the demo street (西一路街道) into an empty database")
    sd.add_argument("--dir", type=Path, help="folder with the demo files (default data/xiyilu)")
    sd.add_argument("--allow-production", action="store_true",
                    help="load the demo street although GC_PRODUCTION=1 (a demo or training box only)")
    ig = sub.add_parser("import-grids", help="import grids from GeoJSON, GeoPackage or Shapefile")
    ig.add_argument("file", type=Path)
    iw = sub.add_parser("import-workers", help="import grid workers from CSV or Excel")
    iw.add_argument("file", type=Path)
    pr = sub.add_parser("prod", help="production: gunicorn with several gevent workers (see docs/DEPLOY.md)")
    pr.add_argument("--workers", "-w", type=int, default=2, help="worker processes (default 2; >1 needs GC_REDIS_URL)")
    pr.add_argument("--threads", type=int, default=64, help="gthread: threads per worker; each live socket holds one")
    pr.add_argument("--worker-class", choices=("gthread", "gevent"), default="gevent",
                    help="gevent: live sockets cost memory, not threads (--threads is then ignored)")
    gc = sub.add_parser("gen-city", help="generate a city-scale dataset (10,000 grids, 20,000 workers, 1M cases)")
    gc.add_argument("--grids", type=int, default=10_000)
    gc.add_argument("--workers", type=int, default=20_000)
    gc.add_argument("--cases", type=int, default=1_000_000)
    gc.add_argument("--city-seed", type=int, default=20261129, help="generator seed (same seed, same city)")
    pr.add_argument("--osmand", action="store_true", default=argparse.SUPPRESS,
                    help="also serve OsmAnd/Traccar positions on a dedicated port (default 5055), in every worker")
    pr.add_argument("--osmand-port", type=int, default=argparse.SUPPRESS, help="the dedicated OsmAnd/Traccar port")
    for sp in (pr, gc):  # also accepted after the subcommand: run.py gen-city --db URL
        sp.add_argument("--db", dest="db_url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--port", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("--host", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    ak = sub.add_parser("create-api-key", help="create an API key (printed as the last line)")
    ak.add_argument("--name", required=True)
    ak.add_argument("--role", required=True)
    ak.add_argument("--worker", metavar="CODE", help="the grid worker (code) a worker key belongs to; required "
                                                     "with --role worker")
    rl = sub.add_parser("resident-links", help="print every grid's QR link of the residents' page /r as CSV "
                                               "(stable while GC_SECRET_KEY stays)")
    rl.add_argument("--base-url", required=True, help="the address residents' phones reach, e.g. https://wg.example.cn")
    return p


def _hour(text: str) -> float:
    """An hour of day for --sim-hour: 0 ≤ h < 24."""
    try:
        h = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sim-hour needs a number of hours, not {text!r}") from None
    if not 0 <= h < 24:
        raise argparse.ArgumentTypeError(f"--sim-hour must be from 0 to 24 (not {text})")
    return h


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def print_device_secrets(services) -> None:
    """The access devices' random secrets, shown this once (they are not in data/ and no screen shows them)."""
    from dashboard.services.access_control import device_secrets

    with services.db.read() as s:
        rows = device_secrets(s)
    print(f"access device secrets ({len(rows)}; shown once — enrol each device with its own, "
          "see docs/SECURITY.md):")
    for device_id, secret in rows:
        print(f"{device_id} {secret}")


def serve(settings: Settings) -> None:
    problems = production_problems(settings)  # GC_PRODUCTION=1 python run.py: the same demands as run.py prod
    if problems:
        fail("refusing to start in production: " + "; ".join(problems))
    if not port_free(settings.host, settings.port):
        fail(f"port {settings.port} on {settings.host} is already in use; choose another with --port")
    app, services = build_server(settings)
    services.start_background()
    if settings.osmand_port:
        from dashboard.api.osmand import serve_dedicated

        if not port_free(settings.host, settings.osmand_port):
            fail(f"OsmAnd port {settings.osmand_port} on {settings.host} is already in use; choose --osmand-port")
        # the main port's group commit: one per-device budget for both ports
        serve_dedicated(services, settings.host, settings.osmand_port, app.extensions.get("gc_osmand_group_commit"))
    log.info("serving on http://%s:%d (simulator %s, %s)", settings.host, settings.port,
             "on" if settings.simulate else "off", "gevent" if GEVENT else "threads")
    # the listen backlog: 128 by default, and a burst of phones reconnecting after a network blip (or a bench
    # stepping up) overflows it while the process is busy — each overflowed connect then waits for a SYN retry
    backlog = 2048
    try:
        if GEVENT:  # gevent's own WSGI server, as in run.py prod's gevent workers: a request costs a greenlet and
            # a fraction of Werkzeug's parsing (one-fix /osmand at city rate); websockets go through simple-websocket
            from gevent.pywsgi import LoggingLogAdapter, WSGIServer

            # a stranger's malformed request (answered 400/414) is a warning, not the server's error
            WSGIServer((settings.host, settings.port), app, backlog=backlog, log=None,
                       error_log=LoggingLogAdapter(logging.getLogger("gevent.pywsgi"), logging.WARNING)).serve_forever()
        else:
            import werkzeug.serving

            werkzeug.serving.BaseWSGIServer.request_queue_size = backlog
            services.socketio.run(app, host=settings.host, port=settings.port, allow_unsafe_werkzeug=True,
                                  use_reloader=False, log_output=False)
    finally:
        services.shutdown()


def prod(settings: Settings, workers: int, threads: int, worker_class: str = "gevent") -> None:
    """Check the production settings, migrate once, then become gunicorn (gthread or gevent workers)."""
    settings = settings.with_(production=True)
    problems = production_problems(settings)
    if workers > 1 and not settings.redis_url:
        problems.append("several workers need GC_REDIS_URL (the Socket.IO message queue), else a wall "
                        "misses what other workers publish")
    if workers > 1 and settings.is_sqlite:
        problems.append("several workers need PostgreSQL in GC_DB_URL, not SQLite")
    if problems:
        fail("refusing to start in production: " + "; ".join(problems))
    if not port_free(settings.host, settings.port):
        fail(f"port {settings.port} on {settings.host} is already in use; choose another with --port")
    if settings.osmand_port and not port_free(settings.host, settings.osmand_port):
        fail(f"OsmAnd port {settings.osmand_port} on {settings.host} is already in use; choose --osmand-port")
    _, services = open_services(settings)  # migrate once, before any worker starts
    services.shutdown()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    env = {**os.environ, "GC_PRODUCTION": "1", "GC_DB_URL": settings.db_url, "GC_HOST": settings.host,
           "GC_PORT": str(settings.port), "GC_SIMULATE": "1" if settings.simulate else "0",
           "GC_SIM_SPEED": str(settings.sim_speed), "GC_SIM_SEED": str(settings.sim_seed)}
    binds = ["-b", f"{host}:{settings.port}"]
    if settings.osmand_port:  # every worker answers OsmAnd/Traccar there (wsgi.py dispatches by the listening port)
        env["GC_OSMAND_PORT"] = str(settings.osmand_port)
        binds += ["-b", f"{host}:{settings.osmand_port}"]
    if settings.sim_hour is not None:
        env["GC_SIM_HOUR"] = str(settings.sim_hour)
        # every worker's clock at the same simulated time (each would otherwise work out its own offset)
        from dashboard.app import sim_clock_offset

        env.setdefault("GC_SIM_CLOCK_OFFSET_S", str(sim_clock_offset(settings)))
    if worker_class == "gthread":
        # a gthread worker gives each live socket or camera stream a thread of its own: keep a quarter (at least
        # 4) for requests, so sockets can never take the threads /healthz and reports need (dashboard/live_guard.py)
        env.setdefault("GC_SOCKET_MAX", str(max(1, threads - max(4, threads // 4))))
        kind = ["-k", "gthread", "--threads", str(threads)]
    else:  # greenlets: a socket costs memory (tens of KB), not a thread; the cap bounds a worker's memory
        env.setdefault("GC_SOCKET_MAX", "10000")
        kind = ["-k", "gevent", "--worker-connections", "20000"]
    # this interpreter's gunicorn: found without the venv's bin on PATH (a systemd unit, cron, a bare shell)
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).resolve().parent), *kind,
            "-w", str(workers), *binds, "--timeout", "120",
            "--graceful-timeout", "20", "--no-control-socket",
            "--worker-tmp-dir", "/dev/shm" if Path("/dev/shm").is_dir() else "/tmp",
            "--log-level", logging.getLevelName(log.getEffectiveLevel()).lower(), "wsgi:app"]
    log.info("exec %s", " ".join(argv))
    os.execvpe(sys.executable, argv, env)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # no plugin chatter before a one-line error
    try:  # a bad GC_* value stops here, naming the variable
        settings = Settings.from_env(host=args.host, port=args.port, db_url=args.db_url, sim_speed=args.sim_speed,
                                     sim_seed=args.sim_seed, sim_hour=args.sim_hour,
                                     simulate=False if args.no_sim else None,
                                     osmand_port=args.osmand_port or (5055 if args.osmand else None))
    except SettingsError as exc:
        fail(str(exc))
    cmd = args.command or "serve"
    if cmd == "serve":
        return serve(settings)
    if cmd == "prod":
        return prod(settings, args.workers, args.threads, args.worker_class)
    from dashboard.services.importers import ImportProblem

    if cmd == "seed-demo" and settings.production and not args.allow_production:
        fail("GC_PRODUCTION=1: seed-demo would put the synthetic demo street (490 workers, its cases and devices) "
             "into a production database; pass --allow-production if this box really is a demo")
    _, services = open_services(settings)
    try:
        if cmd == "init-db":
            print(f"schema is up to date in {settings.db_url}")
        elif cmd == "seed-demo":
            if not seed_if_empty(services, args.dir):
                fail("the database already holds grids; seed-demo only loads into an empty database")
            print("demo street loaded")
            print_device_secrets(services)
        elif cmd == "import-grids":
            from dashboard.services.importers import import_grids

            with services.db.write() as s:
                print(f"grids: {import_grids(s, args.file)}")
        elif cmd == "import-workers":
            from dashboard.services.importers import import_workers

            with services.db.write() as s:
                print(f"workers: {import_workers(s, args.file)}")
        elif cmd == "gen-city":
            from dashboard.demodata.city import generate_city

            counts = generate_city(services.db.engine, grids=args.grids, workers=args.workers, cases=args.cases,
                                   seed=args.city_seed)
            print(f"city: {counts}")
        elif cmd == "create-api-key":
            from dashboard.services.apikeys import create_api_key, worker_by_code

            if args.role == "worker" and not args.worker:
                fail("a worker key belongs to one grid worker: name it with --worker CODE")
            with services.db.write() as s:
                wid = worker_by_code(s, args.worker) if args.worker else None
                _, key = create_api_key(s, name=args.name, role=args.role, worker_id=wid)
            print(key)
        elif cmd == "resident-links":
            import csv

            from dashboard.services.residents import grid_links

            if not settings.secret_key:
                fail("set GC_SECRET_KEY first: the links are signed with it (a key made up at each start would "
                     "change them)")
            with services.db.read() as s:
                rows = grid_links(s, settings.secret_key, args.base_url)
            out = csv.DictWriter(sys.stdout, fieldnames=["community", "grid_code", "grid_name", "url"])
            out.writeheader()
            out.writerows(rows)
    except ImportProblem as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    finally:
        services.shutdown()


if __name__ == "__main__":
    main()
