"""Component ids of the wall (and the bench-only polling wall); 30-wall.js uses the same strings."""
from enum import StrEnum


class Wall(StrEnum):
    ROOT = "wall-root"
    STAGE = "wall-stage"
    MAP = "wall-map"
    MAP_SLOT = "wall-map-slot"
    CLOCK = "wall-clock"
    STATUS = "wall-status"
    KPI = "wall-kpi"
    CATEGORY = "wall-category"
    HOURLY = "wall-hourly"
    RANKING = "wall-ranking"
    ALERTS = "wall-alerts"
    TICKER = "wall-ticker"
    MEASURE = "wall-measure"
    SOUND = "wall-sound"
    OVERLAY = "wall-overlay"


class WallPoll(StrEnum):
    ROOT = "wallpoll-root"
    TICK = "wallpoll-tick"
    MAP = "wallpoll-map"
    TICKER = "wallpoll-ticker"
    KPI = "wallpoll-kpi"
