"""The data model. Import models from here."""
from .geo import Community, Grid, Street
from .people import ApiKey, Patrol, Position, User, Worker, WorkerGrid
from .cases import Case, CaseLog, CasePhoto, Category, Dispatch
from .alerts import Alert, CapSender  # noqa: F401  (CapSender: CAP sender ownership)
from .registers import Camera, Contact, Organisation, Place, ResidentCount
from .log import AuditLog, Event
from .enums import AlertState, CaseSource, CaseState, DutyState, Role
from .patrol_tour import PatrolStopLog, PatrolTour  # noqa: F401  (mouse patrol)
from .video_call import VideoCall  # noqa: F401  (video dispatch)
from . import briefing_indexes  # noqa: F401,E402  (indexes for the briefing day queries)
from .position_day import PositionDay, PositionWalk  # noqa: F401,E402  (per-day fix rollup for the briefing)
from .department import Department  # noqa: F401,E402  (departments cases are routed to)
from .governance import (AccessDevice, DeviceEvent, GovernanceActivity, GovernanceTarget, LegalStaff,  # noqa: F401
                         PartyBranch, PartyPost)  # 网格+五治
from .residents import Notice, NoticeRead, NotifyAttempt, NotifyOutbox, ResidentTicket, Visit  # noqa: F401,E402

__all__ = [
    "Street", "Community", "Grid", "Worker", "WorkerGrid", "Position", "Patrol", "User",
    "ApiKey", "Category", "Case", "CaseLog", "CasePhoto", "Dispatch", "Alert", "Camera",
    "Contact", "Organisation", "Place", "ResidentCount", "AuditLog", "Event", "AlertState",
    "CaseSource", "CaseState", "DutyState", "Role",
]
