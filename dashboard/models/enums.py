"""Domain vocabularies stored as short strings."""
from enum import StrEnum


class DutyState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"  # on shift, no task, not patrolling
    PATROLLING = "patrolling"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    HANDLING = "handling"


class CaseState(StrEnum):
    """The closed loop: 上报 → 受理/立案 → 派遣 → 处置 → 反馈 → 核查结案 → 评价."""

    REPORTED = "reported"      # 上报 (escalated to the center, awaiting triage)
    REGISTERED = "registered"  # 立案 (accepted, awaiting dispatch)
    DISPATCHED = "dispatched"  # 派遣 (sent to a worker/department, SLA clock runs)
    HANDLING = "handling"      # 处置 (worker acknowledged / on scene / working)
    FEEDBACK = "feedback"      # 反馈 (worker reports done; awaiting the check)
    CLOSED = "closed"          # 结案 (check passed, or handled on the spot)
    VOID = "void"              # 作废 (invalid, with reason)

    @property
    def is_open(self) -> bool:
        return self not in (CaseState.CLOSED, CaseState.VOID)


class CaseSource(StrEnum):
    APP = "app"
    OPEN311 = "open311"
    HOTLINE = "hotline"
    SENSOR = "sensor"
    OPERATOR = "operator"
    RESIDENT = "resident"  # /r, the residents' page (issue 31)


class AlertState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Role(StrEnum):
    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    LEADER = "leader"
    WORKER = "worker"
    INTEGRATION = "integration"
    DISPLAY = "display"
