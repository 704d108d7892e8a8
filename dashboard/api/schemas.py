"""Pydantic input models of the /api/v1 field API: what the server accepts, and the OpenAPI schemas."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ID_MAX, ApiError

PHOTO_TOKEN = r"^u_[0-9a-f]{32}$"  # a staged upload token from POST /api/v1/photos
Crs = Literal["wgs84", "gcj02", "bd09"]
Id = Annotated[int, Field(ge=1, le=ID_MAX)]  # a record id: what a BIGINT column holds
FIX_T_MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z: past it no calendar (datetime) holds the fix


class Strict(BaseModel):
    """Unknown fields are an error, so a typo in a field name is named back to the caller."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# The admin bodies (users, keys, departments …): JSON's own types only — no "1" for 1, no 1 for true — as the
# hand-written checks they replace had it.
StrictId = Annotated[int, Field(strict=True, ge=1, le=ID_MAX)]
StrictBool = Annotated[bool, Field(strict=True)]
Name = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=64)]
# The default of an edit's field that may be left out but not sent as null: the views read only the fields a body
# set (``model_dump(exclude_unset=True)``), and a null is refused by the field's own type, naming it.
LEFT_OUT: Any = None


class StrictBody(BaseModel):
    """An admin body: unknown fields refused by name, values of JSON's own types, strings kept as sent."""

    model_config = ConfigDict(extra="forbid")


def fields_set(model: type[BaseModel], data: Any, *, status: int = 422) -> dict[str, Any]:
    """The fields ``data`` sets, checked by ``model`` (a ``status`` naming the field), as JSON values."""
    return parse(model, data, status=status).model_dump(exclude_unset=True, mode="json")


class CaseIn(Strict):
    """A report from the street: 就地处置 (onsite=true) or 上报."""

    category_code: str = Field(min_length=1, max_length=8, description="小类 code, see GET /api/v1/categories/tree")
    description: str = Field(default="", max_length=4000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    crs: Crs = Field(default="wgs84", description="coordinate system of lat/lon; stored as WGS-84")
    address: str = Field(default="", max_length=256)
    onsite: bool = Field(default=False, description="handled on the spot (closed at once)")
    note: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=9,
                              description="tokens from POST /api/v1/photos (stage 'before')")
    after_photos: list[str] = Field(default_factory=list, max_length=9,
                                    description="tokens from POST /api/v1/photos (stage 'after', onsite handling)")
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100,
                                        description="or the Idempotency-Key header; a repeat returns the same case")
    worker_id: Id | None = Field(default=None, description="reporter (only for operator/integration callers)")

    @field_validator("photos", "after_photos")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        import re

        for t in v:
            if not re.match(PHOTO_TOKEN, t):
                raise ValueError(f"not a photo token: {t!r}")
        return v

    @model_validator(mode="after")
    def _pair(self) -> "CaseIn":
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class FixIn(Strict):
    """One GPS fix from a native app."""

    t: datetime | int | None = Field(default=None, description="fix time: ISO 8601 with zone, or Unix s/ms "
                                                             f"(0 … {FIX_T_MAX_MS})")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed: float | None = Field(default=None, ge=0, description="m/s")
    bearing: float | None = Field(default=None, ge=0, le=360)
    accuracy: float | None = Field(default=None, ge=0, description="m")
    battery: float | None = Field(default=None, ge=0, le=100, description="percent")
    alarm: str | None = Field(default=None, max_length=32)

    @field_validator("t")
    @classmethod
    def _on_a_calendar(cls, v: datetime | int | None) -> datetime | int | None:
        if isinstance(v, int) and not 0 <= v <= FIX_T_MAX_MS:
            raise ValueError(f"a Unix time in s or ms between 0 and {FIX_T_MAX_MS}")
        return v


class PositionBatchIn(Strict):
    """A batch of buffered fixes (oldest first or any order; duplicates are dropped)."""

    device_id: str | None = Field(default=None, max_length=64)
    worker_id: Id | None = None
    crs: Crs = "wgs84"
    fixes: list[FixIn] = Field(min_length=1, max_length=5000)


class DeviceTokenIn(Strict):
    """A device token to set; without one the server draws a random token."""

    token: str | None = Field(default=None, min_length=16, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$",
                              description="URL-safe, so it fits a Traccar server URL (?token=) as it is")


class PatrolIn(Strict):
    worker_id: Id | None = Field(default=None, description="only for operator/integration callers")


class TaskActionIn(Strict):
    note: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=9, description="stage 'after' photo tokens")

    @field_validator("photos")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        return CaseIn._tokens(v)


class WorkerIn(Strict):
    """A grid worker to create (admin/integration)."""

    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\- ]*$")
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    grid_code: str | None = Field(default=None, max_length=32)
    role: str = Field(default="专职网格员", max_length=32)
    shift: Literal["day", "night"] = "day"


def parse(model: type[BaseModel], data: Any, *, status: int = 422) -> Any:
    """Validate ``data``; the first problem becomes a ``status`` (422, or the 400 an older endpoint answered)
    naming its field."""
    if data is None:
        raise ApiError(400, "expected a JSON body (Content-Type: application/json)", "body")
    if not isinstance(data, dict):
        raise ApiError(422, "the body must be a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"].removeprefix("Value error, ")
        raise ApiError(status, f"{loc}: {msg}", loc)
