"""Settings: one frozen object built once from the environment and the command line."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _share(name: str, value: str | None, default: float) -> float:
    """A share from 0 to 1; anything else stops the start naming the variable."""
    if value is None or value.strip() == "":
        return default
    try:
        v = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}") from None
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must be from 0 to 1, got {value!r}")
    return v


@dataclass(frozen=True)
class Settings:
    """Everything configurable. See the configuration table in README.md."""

    db_url: str = f"sqlite:///{ROOT / 'var' / 'gridcommand.db'}"
    host: str = "127.0.0.1"
    port: int = 8050
    data_dir: Path = ROOT / "var"
    demo_dir: Path = ROOT / "data" / "xiyilu"
    redis_url: str | None = None
    secret_key: str | None = None
    simulate: bool = True
    demo: bool = True  # demo operator signed in for requests from this machine; off in production
    sim_speed: float = 1.0
    sim_seed: int = 20261129
    sim_cases_per_day: int = 400
    sim_hour: float | None = None  # simulate this local hour of day (shifts, case rate); None = the clock's
    sim_worker_trouble: float = 0.3  # share of dispatched tasks simulated workers get wrong (late, turned back …)
    tile_url: str | None = None
    tile_crs: str = "wgs84"
    tile_attribution: str = ""
    timezone: str = "Asia/Shanghai"
    default_lang: str = "zh-CN"
    position_frame_s: float = 1.0
    osmand_port: int | None = None  # dedicated OsmAnd/Traccar port (Traccar uses 5055); None = off
    osmand_max_fixes: int = 100  # fixes in one OsmAnd/Traccar request (Traccar's clients send ≤ 100)
    position_max_future_s: float = 300.0  # a fix further ahead of the server clock is stored at its receive time
    brief_dir: Path | None = None  # daily brief folder; None = <data_dir>/briefs
    brief_at: str = "07:30"  # Asia/Shanghai time the daily brief is written; "" or "off" = never
    production: bool = False
    debug: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from GC_* environment variables, then apply explicit overrides."""
        env = os.environ if env is None else env
        base = cls()
        data_dir = Path(env.get("GC_DATA_DIR", str(base.data_dir)))
        values = dict(
            db_url=env.get("GC_DB_URL") or f"sqlite:///{data_dir / 'gridcommand.db'}",
            host=env.get("GC_HOST", base.host),
            port=int(env.get("GC_PORT", base.port)),
            data_dir=data_dir,
            demo_dir=Path(env.get("GC_DEMO_DIR", str(base.demo_dir))),
            redis_url=env.get("GC_REDIS_URL") or None,
            secret_key=env.get("GC_SECRET_KEY") or None,
            simulate=_bool(env.get("GC_SIMULATE"), base.simulate),
            demo=_bool(env.get("GC_DEMO"), not _bool(env.get("GC_PRODUCTION"), False)),
            sim_speed=float(env.get("GC_SIM_SPEED", base.sim_speed)),
            sim_seed=int(env.get("GC_SIM_SEED", base.sim_seed)),
            sim_cases_per_day=int(env.get("GC_SIM_CASES_PER_DAY", base.sim_cases_per_day)),
            sim_hour=float(env["GC_SIM_HOUR"]) if env.get("GC_SIM_HOUR") else None,
            sim_worker_trouble=_share("GC_SIM_WORKER_TROUBLE", env.get("GC_SIM_WORKER_TROUBLE"),
                                      base.sim_worker_trouble),
            tile_url=env.get("GC_TILE_URL") or None,
            tile_crs=env.get("GC_TILE_CRS", base.tile_crs).lower(),
            tile_attribution=env.get("GC_TILE_ATTRIBUTION", ""),
            default_lang=env.get("GC_LANG", base.default_lang),
            osmand_port=int(env["GC_OSMAND_PORT"]) if env.get("GC_OSMAND_PORT") else None,
            osmand_max_fixes=int(env.get("GC_OSMAND_MAX_FIXES", base.osmand_max_fixes)),
            position_max_future_s=float(env.get("GC_POSITION_MAX_FUTURE_S", base.position_max_future_s)),
            production=_bool(env.get("GC_PRODUCTION"), False),
            brief_dir=Path(env["GC_BRIEF_DIR"]) if env.get("GC_BRIEF_DIR") else None,
            brief_at=env.get("GC_BRIEF_AT", base.brief_at),
            debug=_bool(env.get("GC_DEBUG"), False),
            extra={k: v for k, v in env.items() if k.startswith("GC_")},
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (settings never change in place)."""
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
