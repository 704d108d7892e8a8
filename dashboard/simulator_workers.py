"""Simulated workers answer the tasks a person dispatches to them (issue 27 item 5).

A dispatcher who clicks 一键派遣 in the demo sends the task to a simulated worker; that worker
accepts within a minute or two (simulated time), walks to the case, is seen arriving by the GPS
arrival detection (its fixes go through ``ingest_fixes`` like a phone's), works a few minutes and
sends feedback with a generated after-photo. Some tasks go wrong, so SLA and rework show on the
wall and in the console: a worker accepts only after the no-acknowledgement alert has fired, one
finishes after the deadline, one sends a thin note without a photo (the check may send it back for
rework), and one turns the task back with a reason (上报上级: the case returns to the queue).

``decide(seed, dispatch_id)`` is the per-task decision, deterministic for a seed; the responder
keeps the tasks it answers, ``plan`` says which steps are due (pure apart from the workers it
moves), ``apply`` carries them out through the domain services and ``sense`` reads new dispatches.
Dispatches of the simulated center's own loop (``by == CENTER``) are left to that loop.
"""
from __future__ import annotations

import io
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select

from .models import Case, Dispatch, Worker
from .services import photos as photo_svc
from .services.cases import CaseError, IllegalTransition, transition

log = logging.getLogger(__name__)

CENTER = "模拟指挥中心"  # the simulated center's name in dispatches and timelines (simulator.py)
OPEN = ("sent", "acknowledged", "arrived")
TROUBLE = 0.3  # share of tasks that go wrong, split as below (GC_SIM_WORKER_TROUBLE)
TROUBLE_SPLIT = (("decline", 0.3), ("slow_ack", 0.3), ("late", 0.2), ("thin", 0.2))
DECLINE_REASONS = ["非网格员职责，需职能部门处置，申请上报", "现场需专业设备和人员，网格员无法处置",
                   "当事人拒不配合，申请社区协调处理", "事发地点不在本人网格，请改派属地网格员"]
FEEDBACK_NOTES = ["已到现场处置完毕，现场已恢复", "已协调物业清理完毕", "已劝导当事人整改，现场已整改到位",
                  "已联系相关单位现场处置完成"]
THIN_NOTES = ["已通知相关方，待处理", "已查看现场"]


@dataclass(frozen=True)
class TaskDecision:
    """What a simulated worker does with one task; durations in simulated seconds."""

    kind: str            # prompt | slow_ack | late | thin | decline
    ack_after_s: float   # from the moment the task reaches the phone to 签收 (or to turning it back)
    work_s: float        # on the scene before the feedback
    late_by_s: float     # "late": the feedback comes this long after the deadline
    photo: bool          # feedback carries a generated after-photo
    note: str            # feedback note, or the reason for turning the task back


def decide(seed: int, dispatch_id: int, *, rework: bool = False, trouble: float = TROUBLE) -> TaskDecision:
    """The decision for one dispatch: the same for a seed and dispatch whatever the tick timing. A rework
    dispatch (the check sent the case back) is never turned back and is redone with a photo."""
    r = random.Random(f"{seed}/task/{dispatch_id}")
    kind = "prompt"
    x = r.random()
    if x < trouble:
        acc = 0.0
        for name, share in TROUBLE_SPLIT:
            acc += share * trouble
            if x < acc:
                kind = name
                break
        else:
            kind = TROUBLE_SPLIT[-1][0]
    if rework and kind in ("decline", "thin"):
        kind = "prompt"
    ack = r.uniform(16, 30) * 60 if kind == "slow_ack" else r.uniform(30, 180) if kind == "decline" \
        else r.uniform(20, 120)
    work = r.uniform(3, 12) * 60
    late_by = r.uniform(5, 40) * 60 if kind == "late" else 0.0
    if kind == "decline":
        note = r.choice(DECLINE_REASONS)
    elif kind == "thin":
        note = r.choice(THIN_NOTES)
    else:
        note = r.choice(FEEDBACK_NOTES)
    return TaskDecision(kind, round(ack, 1), round(work, 1), round(late_by, 1), kind != "thin", note)


@dataclass
class Task:
    dispatch_id: int
    case_id: int
    worker_id: int
    decision: TaskDecision
    lat: float | None
    lon: float | None
    sla_due_at: datetime | None
    phase: str          # ack → walk → work → (done)
    due: datetime | None


def after_photo(case_code: str, now: datetime, seed: int) -> bytes:
    """A small generated JPEG standing for the worker's after-photo (a clean pavement, the case and time)."""
    r = random.Random(f"{seed}/photo/{case_code}")
    img = Image.new("RGB", (640, 480), (150 + r.randint(0, 40), 160 + r.randint(0, 40), 150 + r.randint(0, 30)))
    d = ImageDraw.Draw(img)
    for i in range(0, 640, 80):  # paving slabs
        d.line([(i, 300), (i + r.randint(-30, 30), 480)], fill=(120, 120, 120), width=3)
    d.rectangle([0, 0, 640, 300], fill=(170, 200, 225))
    d.rectangle([40 + r.randint(0, 200), 120, 300 + r.randint(0, 200), 300], fill=(200, 190, 170))
    d.rectangle([0, 440, 640, 480], fill=(30, 30, 30))
    d.text((12, 452), f"AFTER  {case_code}  {now:%Y-%m-%d %H:%M} UTC", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


class WorkerResponder:
    """The tasks simulated workers are answering. Built by the Simulator; see the module doc."""

    def __init__(self, seed: int, speed: float, *, trouble: float = TROUBLE) -> None:
        self.seed, self.speed, self.trouble = seed, speed, trouble
        self.tasks: dict[int, Task] = {}   # dispatch id → task
        self.watermark = -1                # dispatches up to this id were looked at (-1: none yet)

    def _after(self, now: datetime, sim_s: float) -> datetime:
        return now + timedelta(seconds=sim_s / self.speed)

    # -- sensing (reads the database) -------------------------------------------------------------
    def sense(self, session, now: datetime, workers: dict[int, Any]) -> list[Task]:
        """Take up dispatches a person sent to simulated workers on shift since the last look, and let go of
        tasks whose dispatch was cancelled (re-dispatched, voided, escalated) meanwhile."""
        if self.tasks:
            states = dict(session.execute(select(Dispatch.id, Dispatch.state).where(
                Dispatch.id.in_(list(self.tasks)))).all())
            for did in [d for d in self.tasks if states.get(d) not in OPEN]:
                self.drop(did, workers)
        q = (select(Dispatch.id, Dispatch.case_id, Dispatch.worker_id, Dispatch.state, Dispatch.by, Case.lat,
                    Case.lon, Case.sla_due_at, Case.rework_count)
             .join(Case, Case.id == Dispatch.case_id).where(Dispatch.id > self.watermark).order_by(Dispatch.id))
        if self.watermark < 0:  # the first look (a restart): only what is still open
            q = q.where(Dispatch.state.in_(OPEN))
        new = []
        for did, cid, wid, state, by, lat, lon, due, rework in session.execute(q).all():
            self.watermark = max(self.watermark, did)
            w = workers.get(wid)
            if w is None or not w.active or by == CENTER or state not in OPEN:
                continue
            if any(t.worker_id == wid for t in self.tasks.values()):
                continue  # one task at a time: a second one waits unanswered (the no-ack rule sees it)
            dec = decide(self.seed, did, rework=rework > 0, trouble=self.trouble)
            t = Task(did, cid, wid, dec, lat, lon, due, "ack", self._after(now, dec.ack_after_s))
            if state == "arrived" or (state == "acknowledged" and lat is None):  # after a restart: at work
                t.phase, t.due = "work", self._work_done(now, t)
            elif state == "acknowledged":  # after a restart: accepted, walk (again) to the case
                t.phase, t.due, w.errand = "walk", None, (lat, lon)
            self.tasks[did] = t
            new.append(t)
        return new

    def drop(self, dispatch_id: int, workers: dict[int, Any]) -> None:
        t = self.tasks.pop(dispatch_id, None)
        w = workers.get(t.worker_id) if t else None
        if w is not None and w.errand is not None:
            w.errand = None  # back to patrolling the grid
            w.target = None

    # -- planning (pure apart from the workers' errands) -------------------------------------------
    def plan(self, now: datetime, workers: dict[int, Any]) -> list[tuple]:
        """The task steps due at ``now``: (dispatch_id, case_id, worker_id, action, note, photo)."""
        steps = []
        for did in sorted(self.tasks):
            t = self.tasks[did]
            w = workers.get(t.worker_id)
            if w is None or not w.active:  # the shift ended: the task is left for the center
                self.drop(did, workers)
                continue
            d = t.decision
            if t.phase == "ack" and t.due is not None and now >= t.due:
                if d.kind == "decline":
                    steps.append((did, t.case_id, t.worker_id, "escalate", d.note, False))
                    self.tasks.pop(did)
                    continue
                steps.append((did, t.case_id, t.worker_id, "acknowledge", "", False))
                if t.lat is None:  # nowhere to walk to: the worker says so on the phone
                    steps.append((did, t.case_id, t.worker_id, "arrive", "", False))
                    t.phase, t.due = "work", self._work_done(now, t)
                else:
                    t.phase, w.errand = "walk", (t.lat, t.lon)
            elif t.phase == "walk" and w.errand is not None and (w.lat, w.lon) == w.errand:
                t.phase, t.due = "work", self._work_done(now, t)
            elif t.phase == "work" and t.due is not None and now >= t.due:
                steps.append((did, t.case_id, t.worker_id, "feedback", d.note, d.photo))
                self.drop(did, workers)
        return steps

    def _work_done(self, now: datetime, t: Task) -> datetime:
        done = self._after(now, t.decision.work_s)
        if t.decision.kind == "late" and t.sla_due_at is not None:
            done = max(done, t.sla_due_at + timedelta(seconds=t.decision.late_by_s / self.speed))
        return done

    # -- applying (through the domain services, as the phone's task calls do) ----------------------
    def apply(self, steps: list[tuple], *, db, uploads: Path | None, calendar=None, now: datetime,
              workers: dict[int, Any]) -> None:
        for did, cid, wid, action, note, photo in steps:
            try:
                with db.write(bulk=True) as s:
                    d = s.get(Dispatch, did)
                    c = s.get(Case, cid)
                    if d is None or c is None or d.state not in OPEN:
                        raise IllegalTransition(f"dispatch {did} is no longer open")
                    w = s.get(Worker, wid)
                    if action == "feedback" and photo and uploads is not None:
                        st = photo_svc.store_upload(uploads, io.BytesIO(after_photo(c.code, now, self.seed)))
                        photo_svc.attach(s, uploads, c, [st.token], stage="after")
                    transition(s, c, action, actor=w.name, note=note, calendar=calendar, now=now)
            except (IllegalTransition, CaseError, photo_svc.PhotoError) as exc:
                log.debug("simulated worker %s let go of dispatch %s: %s", wid, did, exc)
                self.drop(did, workers)  # a person took the case over (its transaction rolled back)
