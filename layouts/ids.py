"""Every component id of the app, in one place."""
from enum import StrEnum


class Shell(StrEnum):
    URL = "shell-url"
    PAGE = "shell-page"
    LANG = "shell-lang"


class Home(StrEnum):
    STATUS = "home-status"
