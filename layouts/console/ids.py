"""Component ids of /console (the JS in assets/50-console.js uses the same strings)."""
from enum import StrEnum


class Console(StrEnum):
    ROOT = "console-root"
    STATUS = "console-status"
    ALERTS = "console-alerts"
    CASES = "console-cases"
    TRACKING = "console-tracking"
    DETAIL = "console-detail"
    MAP = "console-map"
    FOCUS = "console-focus"      # dcc.Store: what the small map shows (set by the JS)
    DRAWN = "console-map-drawn"  # dcc.Store: when the map last followed the focus
    SIDE = "console-side"
    MESSAGE = "console-message"
    SOUND = "console-sound"      # the desk's sound switch (assets/50-console.js)
