"""Settings: one frozen, typed object built once from the environment and the command line.

Every ``GC_*`` variable is declared here once — its type, default and meaning — and checked when the settings are
built, so a bad value stops the start with a message naming the variable (``SettingsError``) instead of failing
later where it is used. The README's configuration table is generated from these declarations
(``python scripts/settings_table.py --write``; tests/unit/test_house_settings.py keeps the two equal).

A field ``name`` is read from ``GC_<NAME>`` (``default_lang`` from ``GC_LANG``); an empty variable counts as unset.
Command-line options win over the environment (``Settings.from_env(env, **overrides)``).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
RATE = re.compile(r"(?i:off|0|[1-9][0-9]*(/[0-9]+(\.[0-9]+)?)?)")  # ratelimit.parse_limit's forms


class SettingsError(ValueError, SystemExit):
    """A GC_* value that cannot be used; the message names the variable. Uncaught, it ends the start."""


def _off_or_count(v: Any) -> Any:
    """``off``/``none``/``0`` (or empty) → None; anything else is left for the int check."""
    if v is None or (isinstance(v, str) and v.strip().lower() in ("off", "none", "", "0")) or v == 0:
        return None
    if isinstance(v, str):
        try:
            return int(float(v))
        except ValueError:
            return v  # the int check names it
    return v


class Settings(BaseSettings):
    """Everything configurable; see the configuration table in README.md (generated from this class)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=True)
    # which CLI option sets a field, for the README table
    OPTIONS: ClassVar[dict[str, str]] = {
        "db_url": "--db", "host": "--host", "port": "--port", "simulate": "--no-sim", "sim_speed": "--sim-speed",
        "sim_seed": "--seed", "sim_hour": "--sim-hour", "osmand_port": "--osmand-port",
    }
    # the README's default column where the default is computed, not a constant
    SHOWN_DEFAULTS: ClassVar[dict[str, str]] = {
        "db_url": "`sqlite:///<GC_DATA_DIR>/gridcommand.db`", "data_dir": "`var/`", "demo_dir": "`data/xiyilu`",
        "demo": "on, off in production", "secret_key": "random per start", "sim_hour": "the clock",
        "allowed_hosts": "`127.0.0.1`, `localhost`, `[::1]` on the port",
        "csp": "`enforce` in production, else `report-only`",
        "socket_max": "`10000` (gevent: `python run.py`, a `prod` worker); `2000` with `--no-gevent`; ¾ of `--threads` a gthread one",
        "brief_dir": "`<GC_DATA_DIR>/briefs`", "sim_clock_offset_s": "worked out from `GC_SIM_HOUR`",
    }

    # --- serving
    db_url: str = Field("", description="database; `postgresql+psycopg://user@host/db` at scale")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8050, ge=1, le=65535, description="port to listen on")
    data_dir: Path = Field(ROOT / "var", description="database file, uploads, briefs")
    demo_dir: Path = Field(ROOT / "data" / "xiyilu", description="the demo street's files (`seed-demo`)")
    redis_url: str | None = Field(None, description="Socket.IO message queue and shared rate limits when several "
                                                    "processes serve (`redis://127.0.0.1:6379/0`)")
    redis_channel: str = Field("gridcommand", min_length=1, description="the Socket.IO channel in Redis "
                                                                        "(one per deployment sharing a Redis)")
    secret_key: str | None = Field(None, description="session signing key (required in production)")
    production: bool = Field(False, description="production mode: no demo operator, refuses to start without a "
                                                "secret key and allowed hosts")
    debug: bool = Field(False, description="Flask debug (never in production)")
    demo: bool | None = Field(None, description="the demo operator: requests from this machine act as a "
                                                "dispatcher without signing in")
    # --- simulator
    simulate: bool = Field(True, description="the live simulator of the demo street")
    sim_speed: float = Field(1.0, gt=0, description="simulator acceleration (walking, fix rate and case rate × N)")
    sim_seed: int = Field(20261129, description="simulator seed (same seed, same decisions)")
    sim_cases_per_day: int = Field(400, ge=0, description="simulated case rate")
    sim_hour: float | None = Field(None, ge=0, lt=24, description="simulate the street at this local hour (e.g. "
                                   "`15`: 476 of 490 workers out) — a demo or bench at night")
    sim_worker_trouble: float = Field(0.3, ge=0, le=1, description="share of the tasks a dispatcher sends to "
                                      "simulated workers that go wrong: accepted late, finished after the deadline, "
                                      "fed back without a photo, or turned back with a reason (0: every task goes "
                                      "smoothly)")
    demo_history_days: int = Field(8, ge=0, le=90, description="days of recent demo history (cases, tracks, "
                                   "patrols) written behind a fresh demo start, so /briefing has yesterday and last "
                                   "week; `0` = none")
    sim_clock_offset_s: float | None = Field(None, description="seconds the simulated clock runs ahead "
                                             "(`run.py prod` sets it so every worker shows the same time)")
    # --- map and pages
    tile_url: str | None = Field(None, description="raster tile URL template for the map (intranet server, 天地图, "
                                                   "高德); none = plain background")
    tile_crs: Literal["wgs84", "gcj02"] = Field("wgs84", description="`gcj02` when the tiles are 高德/腾讯 "
                                                                     "(everything drawn is converted)")
    tile_attribution: str = Field("", description="attribution text shown on the map tiles")
    center_phone: str = Field("", max_length=32, pattern=r"^[0-9+\- ]*$", description="the center's duty phone: "
                              "the worker's phone page has a button that dials it (the demo shows a made-up "
                              "number when unset)")
    default_lang: Literal["zh-CN", "en"] = Field("zh-CN", description="default language (`en` for English)")
    timezone: str = Field("Asia/Shanghai", description="the time zone the wall shows its clock in")
    snapshot_refresh_s: float = Field(3.0, gt=0, description="how often the patrol page's camera snapshots refresh")
    # --- positions and devices
    position_frame_s: float = Field(1.0, gt=0, description="seconds between the position frames pushed to screens")
    osmand_port: int | None = Field(None, ge=1, le=65535, description="a dedicated OsmAnd/Traccar port (Traccar "
                                    "uses 5055); none = off")
    osmand_max_fixes: int = Field(100, ge=1, description="fixes in one OsmAnd/Traccar request (a JSON array); more "
                                                         "→ 413 naming the first one beyond")
    position_max_future_s: float = Field(300.0, ge=0, description="a fix stamped further ahead of the server clock "
                                         "is stored at its receive time (OsmAnd and `/api/v1/positions`)")
    # --- briefing and audit
    brief_dir: Path | None = Field(None, description="the daily brief folder")
    brief_at: str = Field("07:30", description="Asia/Shanghai time the daily brief is written; `off` = never")
    audit_retention_days: int = Field(180, ge=180, description="audit rows are kept this many days (never fewer "
                                                               "than 180)")
    # --- the hardened edge (docs/SECURITY.md)
    allowed_hosts: str = Field("", description="host names this server answers (any other `Host` → 400), "
                               "comma-separated `name` or `name:port`, `*` = any; required in production, e.g. "
                               "nginx's `server_name` (docs/SECURITY.md)")
    trusted_proxies: int = Field(0, ge=0, description="reverse proxies in front whose `X-Forwarded-For`/`-Proto` "
                                                      "are believed; `1` behind the documented nginx")
    csp: Literal["", "enforce", "report-only"] = Field("", description="the Content-Security-Policy header: "
                                                                       "`enforce` or `report-only`")
    session_idle_min: float = Field(30.0, gt=0, description="a signed-in session ends after this many idle minutes")
    display_cookie_days: float = Field(3650.0, gt=0, description="how long a wall's display cookie lasts")
    rate_login: str = Field("10/300", description="sign-in attempts per client address "
                                                                        "(`N/seconds` or `off`)")
    rate_open311: str = Field("60/60", description="Open311 reports (POST) per client address")
    rate_osmand: str = Field("600/60", description="OsmAnd/Traccar fixes per registered device "
                             "per window (both ports); more → 429 (docs/SECURITY.md)")
    rate_positions: str = Field("6000/600", description="fixes per worker (or device) through the batch API "
                                "`POST /api/v1/positions` per window; more → 429 (keep N at least 2,000, the phone "
                                "app's buffer, sent as one batch)")
    rate_webhook: str = Field("600/60", description="device webhook "
                              "(`/api/v1/devices/events`) requests per client address")
    rate_notices: str = Field("120/60", description="residents' page notice reads (`/api/v1/r/…notices`, "
                              "anonymous) per client address")
    rate_resident: str = Field("30/3600", description="residents' reports from `/r` (anonymous) per client address "
                               "(a carrier's NAT puts a compound behind few addresses: generous, with a challenge "
                               "after `GC_RESIDENT_CHALLENGE_AFTER`)")
    rate_resident_phone: str = Field("5/3600", description="residents' reports per call-back phone number")
    resident_challenge_after: int = Field(3, ge=0, description="reports from one address within an hour before the "
                                          "next asks a small sum (0 = always)")
    rate_shared: str = Field("LOGIN,OPEN311,RESIDENT,RESIDENT_PHONE", pattern=r"^[A-Za-z0-9_, ]*$", description="the limits counted in "
                             "Redis for all processes (when `GC_REDIS_URL` is set); the rest per process")
    socket_max: int | None = Field(2000, ge=1, description="live sockets and camera streams per process; one more "
                                   "→ 503 (docs/SECURITY.md); `off` = none")
    socket_per_addr: int | None = Field(200, ge=1, description="live connections per client address; more → 429; "
                                        "`off` = none")
    socket_per_key: int | None = Field(20, ge=1, description="live connections per key, display token or user; more "
                                       "→ 429; `off` = none")
    socket_recheck_s: int | None = Field(2, ge=1, description="how often a process rechecks its sockets' keys and "
                                         "sessions (revoked, disabled, logged out → closed)")
    camera_stream_max_s: float = Field(600.0, gt=0, allow_inf_nan=False, description="a camera's MJPEG stream ends "
                                       "after this many seconds (see docs/SECURITY.md)")
    ice_servers: str = Field("", description="STUN/TURN servers for video calls: comma-separated URLs or a JSON list "
                                             "of RTCIceServer; none = same LAN only")
    # --- Open311 discovery
    open311_jurisdiction: str = Field("xiyilu.gridcommand", description="Open311 `jurisdiction_id`")
    open311_agency: str = Field("西一路街道综治和网格化服务管理中心", description="Open311 `agency_responsible`")
    open311_changeset: str = Field("2026-11-29 00:00", description="Open311 discovery `changeset`")
    # --- alert rules (services/rules.py RuleConfig; minutes are simulated minutes when the simulator runs fast)
    rule_sla_warning_share: float = Field(0.8, gt=0, le=1, description="alert rule: warn when this share of a "
                                          "case's time is used")
    rule_no_ack_minutes: float = Field(15.0, gt=0, description="alert rule: a dispatch unacknowledged this long")
    rule_offline_minutes: float = Field(20.0, gt=0, description="alert rule: an on-duty worker silent this long")
    rule_patrol_hours: float = Field(8.0, gt=0, description="alert rule: a grid unpatrolled this long")
    rule_spike_window_minutes: float = Field(60.0, gt=0, description="alert rule: the case-spike window")
    rule_spike_min_cases: int = Field(5, ge=1, description="alert rule: a spike needs at least this many cases …")
    rule_spike_factor: float = Field(3.0, gt=0, description="… and this many times the grid's usual number")
    rule_spike_floor: float = Field(1.0, ge=0, description="alert rule: the usual number is never taken below this")
    rule_spike_history_weeks: int = Field(4, ge=1, description="alert rule: weeks of history for the usual number")
    rule_spike_fold_grids: int = Field(3, ge=1, description="alert rule: this many grids of one community spiking "
                                       "at once make one community alert")
    rule_fold_threshold: int = Field(3, ge=1, description="alert rule: more alerts of one kind in one community "
                                     "than this make one community alert")
    rule_street_fold_threshold: int = Field(6, ge=1, description="alert rule: more alerts of one kind than this "
                                            "over several communities (a storm) make one street alert")
    rule_batch: int = Field(200, ge=1, description="alert rule: alerts written per transaction")
    rule_batch_ms: float = Field(50.0, gt=0, description="alert rule: … and for at most this long (then it commits "
                                 "and a person's write goes first)")
    rule_interval_s: float = Field(30.0, gt=0, description="alert rules run this often")
    # --- notices beyond the residents' page (services/notifier.py; docs/SECURITY.md)
    notify_backend: Literal["none", "webhook"] = Field("none", description="where grid notices go beyond the "
                                                       "residents' page: `none` (the page only) or `webhook` (an "
                                                       "HTTP POST to the office's SMS or messaging platform)")
    notify_webhook_url: str | None = Field(None, description="the platform's URL for `webhook` (http or https; "
                                           "configuration only, never taken from a request)")
    notify_webhook_secret: str | None = Field(None, description="the HMAC-SHA256 key the webhook's "
                                              "`X-GC-Signature` is made with (at least 16 characters)")
    notify_timeout_s: float = Field(5.0, gt=0, le=60, description="seconds one webhook attempt may take")
    notify_max_attempts: int = Field(6, ge=1, le=50, description="attempts per message before it is dead")
    notify_backoff_s: float = Field(10.0, gt=0, description="the first retry's delay; each next one doubles "
                                    "(with jitter), up to `GC_NOTIFY_BACKOFF_MAX_S`")
    notify_backoff_max_s: float = Field(900.0, gt=0, description="the longest delay between two attempts")
    notify_poll_s: float = Field(5.0, gt=0, description="how often the sender looks for due messages (a notice "
                                 "published in the sender's process wakes it at once)")
    notify_keep_days: int = Field(30, ge=1, le=3650, description="days a delivered, skipped or dead outbox message "
                                  "and its attempts are kept (housekeeping deletes older ones; pending ones stay)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   *_others: PydanticBaseSettingsSource,
                                   **_named: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment is read by from_env (it takes a mapping, so tests and tools pass their own); Settings()
        # alone is the defaults
        return (init_settings,)

    @staticmethod
    def env_name(field: str) -> str:
        """The GC_* variable of a field."""
        return "GC_LANG" if field == "default_lang" else f"GC_{field.upper()}"

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """GC_* variable → field, for every setting."""
        return {cls.env_name(f): f for f in cls.model_fields}

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if not (isinstance(v, str) and v.strip() == "")
                    or k in ("csp", "allowed_hosts", "tile_attribution", "ice_servers", "brief_at")}
            if not data.get("db_url"):
                data["db_url"] = f"sqlite:///{Path(data.get('data_dir') or ROOT / 'var') / 'gridcommand.db'}"
            if data.get("demo") is None:
                prod = data.get("production", False)
                data["demo"] = not (prod if isinstance(prod, bool) else str(prod).strip().lower() in
                                    ("1", "true", "yes", "on", "y", "t"))
            for k in ("tile_crs", "csp"):
                if isinstance(data.get(k), str):
                    data[k] = data[k].strip().lower()
        return data

    @field_validator("socket_max", "socket_per_addr", "socket_per_key", "socket_recheck_s", mode="before")
    @classmethod
    def _off(cls, v: Any) -> Any:
        return _off_or_count(v)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (KeyError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Shanghai") from None
        return v

    @field_validator("rate_login", "rate_open311", "rate_osmand", "rate_positions", "rate_webhook", "rate_notices",
                     "rate_resident", "rate_resident_phone")
    @classmethod
    def _rate(cls, v: str) -> str:
        if not RATE.fullmatch(v.strip()):
            raise ValueError("must be N/seconds (e.g. 10/300) or off")
        return v.strip()

    @field_validator("notify_webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        from urllib.parse import urlsplit

        if info.data.get("notify_backend") != "webhook":
            return v
        url = urlsplit((v or "").strip())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL when GC_NOTIFY_BACKEND is webhook")
        return (v or "").strip()

    @field_validator("notify_webhook_secret")
    @classmethod
    def _webhook_secret(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("notify_backend") == "webhook" and len(v or "") < 16:
            raise ValueError("must be at least 16 characters when GC_NOTIFY_BACKEND is webhook")
        return v

    @field_validator("brief_at")
    @classmethod
    def _brief_at(cls, v: str) -> str:
        if v.strip().lower() in ("", "off") or re.fullmatch(r"([01]?[0-9]|2[0-3]):[0-5][0-9]", v.strip()):
            return v.strip()
        raise ValueError("must be HH:MM or off")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from GC_* environment variables, then apply explicit overrides (None = not given)."""
        env = os.environ if env is None else env
        names = cls.env_names()
        values: dict[str, Any] = {names[k]: v for k, v in env.items() if k in names}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(values)

    @classmethod
    def build(cls, values: Mapping[str, Any]) -> "Settings":
        """Validate ``values`` (field → raw or typed value); a bad one raises SettingsError naming its variable."""
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                raw = values.get(field, "") if field in cls.model_fields else ""
                name = cls.env_name(field) if field in cls.model_fields else field
                msg = str(err["msg"]).removeprefix("Value error, ")
                shown = "(hidden)" if "secret" in field else repr(str(raw)[:60])  # a secret never reaches a log
                problems.append(f"{name}: {msg[:1].lower()}{msg[1:]}, got {shown}")
            raise SettingsError("bad setting — " + "; ".join(problems)) from None

    def with_(self, **changes: Any) -> "Settings":
        """A copy with some fields changed, validated again (settings never change in place). ``extra={GC_*: raw}``
        sets fields by their variable names (the form tests and tools used before the settings were typed)."""
        raw = dict(changes.pop("extra", None) or {})
        names = self.env_names()
        unknown = sorted(k for k in raw if k not in names)
        if unknown:
            raise SettingsError(f"unknown setting {', '.join(unknown)}")
        values = {**self.model_dump(), **{names[k]: v for k, v in raw.items()}, **changes}
        return type(self).build(values)

    @property
    def extra(self) -> dict[str, str]:
        """Transition only: every setting as ``{GC_NAME: text}`` for code not yet reading the typed fields
        (services/rules.py, api/cameras.py, layouts/patrol.py while others edit them). New code reads the fields."""
        out = {}
        for field, value in self.model_dump().items():
            if value is not None:
                out[self.env_name(field)] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def markdown_table(cls) -> str:
        """The README's configuration table: every setting, its option, default and meaning."""
        rows = ["| variable | option | default | meaning |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            default = cls.SHOWN_DEFAULTS.get(name) or _shown(field.default)
            text = (field.description or "").replace("|", "\\|")
            option = f"`{cls.OPTIONS[name]}`" if name in cls.OPTIONS else ""
            rows.append(f"| `{cls.env_name(name)}` | {option} | {default} | {text} |")
        return "\n".join(rows) + "\n"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`"
