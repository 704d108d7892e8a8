"""The residents' side of the demo street's recent past (issue 31): resident reports with their tickets and answers,
workers' visits (走访) and grid notices, written alongside each history day by ``recent.seed_recent``.

Without them a fresh ``python run.py`` showed the briefing's satisfaction section, the Excel's sheet, the 五治
自治 visits and the wall's satisfaction panel at zero or "—". Rows are written as the live services write them
(``services.residents.report`` / ``rate``, ``services.visits.record_visit``, ``services.notices.publish``) but in
bulk and quietly: a share of the day's escalated cases become resident reports (source "resident", no reporting
worker, a ticket with token, tracking code, the QR code's grid and a synthetic call-back number), closed ones get an
answer some hours later (≈70 % 满意, 20 % 基本满意, 10 % 不满意 — a 不满意 sends the case back once as rework and the
center closes it again), every worker on duty records a few visits, and the center or a worker publishes a notice
on Mondays and Thursdays. Deterministic for a seed and a day (its own random stream: the cases' are untouched).
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from ..models import CaseLog, Notice, ResidentTicket, Visit
from ..services.residents import SATISFACTION_NOTE

RESIDENT_SHARE = 0.11  # of the day's cases (the reference street's hotline and QR share, 8–15 %)
ANSWER_SHARE = 0.85    # of closed reports the resident answers
ANSWER_MIX = (("satisfied", 0.7), ("basic", 0.2), ("unsatisfied", 0.1))
VISITS_PER_WORKER = (1, 3)  # a day on duty, inclusive
NOTICE_WEEKDAYS = (0, 3)    # Monday and Thursday
_TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"

# resident category key → what a resident writes (the center's category comes from RESIDENT_CATEGORIES)
REPORT_TEXTS: dict[str, list[str]] = {
    "garbage": ["楼下垃圾桶满了好几天没人清运", "小区门口有人乱倒建筑垃圾"],
    "clutter": ["楼道里堆满了杂物，进出不方便", "沿街商铺把货物摆到了人行道上"],
    "parking": ["电动车堵在单元门口，老人轮椅过不去", "消防车道上长期停着私家车"],
    "fire_safety": ["有人在楼道里给电瓶车充电，很危险", "消防通道被杂物堵住了"],
    "facility": ["院里路灯坏了一个多星期，晚上很黑", "人行道井盖松动，踩上去会响"],
    "road": ["路口的路面塌了一个坑，雨天积水", "小区主路砖块翘起，容易绊倒"],
    "water_heating": ["家里暖气不热，物业一直没来看", "楼里停水了也没有通知"],
    "noise": ["晚上十点以后楼下广场舞音响太吵", "工地夜里施工噪音很大"],
    "dispute": ["楼上漏水到我家，和邻居协商不成", "物业收费有争议，希望社区协调"],
    "elderly": ["隔壁独居老人几天没出门了，请帮忙看看", "老人腿脚不便，想申请上门服务"],
    "other": ["想咨询居住证办理需要什么材料", "建议小区增加几处休息座椅"],
}
RESIDENT_KEYS = list(REPORT_TEXTS)
REPLIES = ["已联系物业清理完毕", "已现场处置，恢复正常", "已协调相关部门处理，居民认可", "网格员已上门核实并解决"]
COMMENTS = {"satisfied": ["处理很及时，谢谢", "网格员很负责", ""],
            "basic": ["处理了，但时间有点长", "基本解决了", ""],
            "unsatisfied": ["问题还没有彻底解决", "清理不干净，过两天又有了"]}
VISIT_PLACES = ["1号楼2单元", "3号楼1单元", "5号楼底商", "小区北门", "社区活动室", "7号楼4单元", "沿街商铺"]
NEEDS = ["希望增加楼道照明", "家中老人需要定期探访", "想了解医保报销政策", "希望小区增设充电桩", "孩子放学无人接送",
         "需要办理居家养老服务", ""]
OPINIONS = ["对近期环境整治表示满意", "反映夜间停车难", "建议加强楼道消防检查", "希望物业服务更及时",
            "认可网格员工作", ""]
FOLLOW_UPS = ["下周回访落实情况", "联系物业协调解决", "转社区居委会跟进", ""]
NOTICES = [
    ("street", False, "冬季用火用电安全提示", "天气转冷，请勿在楼道内给电动车充电，离家时关闭电源。"),
    ("community", False, "社区志愿服务招募", "本周六上午社区组织环境清洁志愿活动，欢迎居民报名参加。"),
    ("grid", False, "楼道杂物清理通知", "本周内请各户清理楼道堆放物品，周五网格员将统一检查。"),
    ("street", True, "停水通知", "因管网检修，明日9:00至15:00部分小区停水，请提前储水。"),
    ("community", False, "老年人免费体检", "社区卫生服务站本月为65岁以上老人提供免费体检，请携带身份证。"),
    ("grid", True, "寒潮降温提醒", "今晚起气温骤降，请关好门窗，独居老人如需帮助请联系网格员。"),
]


def _name(rng: np.random.Generator) -> str:
    return _SURNAMES[int(rng.integers(len(_SURNAMES)))] + "".join(
        _GIVEN[int(i)] for i in rng.integers(len(_GIVEN), size=int(rng.integers(1, 3))))


def pick_resident(cases: list[dict], rng: np.random.Generator) -> list[int]:
    """Turn about ``RESIDENT_SHARE`` of the day's cases into resident reports (in place), from those the center
    handled (not a worker's on-the-spot fix); returns their indexes."""
    pool = [i for i, r in enumerate(cases) if not r["handled_onsite"]]
    n = min(len(pool), int(round(len(cases) * RESIDENT_SHARE)))
    chosen = sorted(int(i) for i in rng.choice(pool, n, replace=False)) if n else []
    for i in chosen:
        r = cases[i]
        key = RESIDENT_KEYS[int(rng.integers(len(RESIDENT_KEYS)))]
        texts = REPORT_TEXTS[key]
        r.update(source="resident", reporter_worker_id=None, level="grid", resident_key=key,
                 description=texts[int(rng.integers(len(texts)))])
    return chosen


def write_day(session: Session, rng: np.random.Generator, *, day: date, end: datetime, cases: list[dict],
              chosen: list[int], ids: dict[str, int], workers: Any, g_by_id: dict, seed: int,
              at: Any) -> dict[str, int]:
    """Tickets (and answers) for the chosen cases, visits and the day's notice; returns row counts."""
    tickets: list[dict] = []
    logs: list[dict] = []
    for i in chosen:
        r = cases[i]
        cid = ids[r["code"]]
        digest = hashlib.sha256(f"{seed}:{r['code']}".encode()).hexdigest()
        code = "R" + "".join(_TRACKING_ALPHABET[int(digest[k:k + 2], 16) % 32] for k in range(0, 16, 2))
        g = g_by_id[r["grid_id"]]
        t = {"case_id": cid, "token": "demo" + digest[:40], "tracking_code": code, "grid_id": g.id,
             "community_id": g.community_id, "resident_category": r["resident_key"],
             "phone": "139" + f"{int(rng.integers(10**8)):08d}" if rng.random() < 0.7 else None,
             "address_hash": None, "created_at": r["created_at"], "first_response_at": r.get("dispatched_at"),
             "satisfaction": None, "satisfaction_comment": "", "satisfaction_at": None, "reworked": False}
        tickets.append(t)
        closed = r.get("closed_at")
        if closed is None or rng.random() >= ANSWER_SHARE:
            continue
        answered = closed + timedelta(hours=float(rng.uniform(0.3, 20)))
        if answered >= end:
            continue
        value = ANSWER_MIX[int(rng.choice(3, p=[p for _, p in ANSWER_MIX]))][0]
        comments = COMMENTS[value]
        comment = comments[int(rng.integers(len(comments)))]
        t.update(satisfaction=value, satisfaction_comment=comment, satisfaction_at=answered)
        logs.append({"case_id": cid, "at": answered, "action": "resident_rating", "actor": "居民",
                     "note": SATISFACTION_NOTE[value] + (f"：{comment}" if comment else ""),
                     "from_state": "closed", "to_state": "closed", "data": {"satisfaction": value}})
        if value == "unsatisfied":  # back to the check queue once, as services.residents.rate does; closed anew
            t["reworked"] = True
            r["rework_count"] = 1
            logs.append({"case_id": cid, "at": answered, "action": "resident_reopen", "actor": "居民",
                         "note": comment, "from_state": "closed", "to_state": "feedback", "data": {}})
            again = answered + timedelta(hours=float(rng.uniform(2, 24)))
            if again < end:
                r.update(closed_at=again, updated_at=again)
                logs.append({"case_id": cid, "at": again, "action": "approve", "actor": "demo",
                             "note": REPLIES[int(rng.integers(len(REPLIES)))], "from_state": "feedback",
                             "to_state": "closed", "data": {}})
            else:
                r.update(state="feedback", closed_at=None, updated_at=answered)
    if tickets:
        session.execute(insert(cast(Table, ResidentTicket.__table__)), tickets)
        _case_updates(session, [cases[i] for i in chosen], ids)
    if logs:
        session.execute(insert(cast(Table, CaseLog.__table__)), logs)
    visits = _visits(rng, day=day, end=end, workers=workers, g_by_id=g_by_id, at=at)
    if visits:
        session.execute(insert(cast(Table, Visit.__table__)), visits)
    notices = _notices(rng, day=day, end=end, workers=workers, g_by_id=g_by_id, at=at)
    if notices:
        session.execute(insert(cast(Table, Notice.__table__)), notices)
    return {"resident_tickets": len(tickets), "resident_answers": sum(1 for t in tickets if t["satisfaction"]),
            "visits": len(visits), "notices": len(notices)}


def _case_updates(session: Session, rows: list[dict], ids: dict[str, int]) -> None:
    """Reworked reports: the case's rework count and its final state and closure (set after the bulk insert)."""
    from sqlalchemy import update

    from ..models import Case

    for r in rows:
        if r.get("rework_count"):
            session.execute(update(Case).where(Case.id == ids[r["code"]]).values(
                rework_count=r["rework_count"], state=r["state"], closed_at=r.get("closed_at"),
                updated_at=r["updated_at"]))


def _visits(rng: np.random.Generator, *, day: date, end: datetime, workers: Any, g_by_id: dict,
            at: Any) -> list[dict]:
    out = []
    lo, hi = VISITS_PER_WORKER
    for w in workers:
        if (w.shift or "day") == "night" or rng.random() < 0.15:  # night shifts knock on no doors; a day off
            continue
        g = g_by_id[w.grid_id]
        for _ in range(int(rng.integers(lo, hi + 1))):
            when = at(day, float(rng.uniform(9, 17.5)))
            if when >= end:
                continue
            place = rng.random() < 0.2
            texts = {"needs": NEEDS[int(rng.integers(len(NEEDS)))],
                     "opinions": OPINIONS[int(rng.integers(len(OPINIONS)))],
                     "follow_up": FOLLOW_UPS[int(rng.integers(len(FOLLOW_UPS)))]}
            if not any(texts.values()):
                texts["opinions"] = OPINIONS[0]
            out.append({"worker_id": w.id, "grid_id": g.id, "community_id": g.community_id,
                        "kind": "place" if place else "household",
                        "whom": "" if place else _name(rng),
                        "place": f"{g.name}{VISIT_PLACES[int(rng.integers(len(VISIT_PLACES)))]}",
                        "lat": round(g.centroid_lat + float(rng.normal(0, 0.0004)), 6),
                        "lon": round(g.centroid_lon + float(rng.normal(0, 0.0004)), 6),
                        "at": when, "created_at": when, "follow_up_case_id": None, **texts})
    return out


def _notices(rng: np.random.Generator, *, day: date, end: datetime, workers: Any, g_by_id: dict,
             at: Any) -> list[dict]:
    if day.weekday() not in NOTICE_WEEKDAYS or not workers:
        return []
    scope, urgent, title, body = NOTICES[(day.toordinal() // 7 * 2 + NOTICE_WEEKDAYS.index(day.weekday()))
                                         % len(NOTICES)]
    when = at(day, float(rng.uniform(8.5, 11)))
    if when >= end:
        return []
    w = workers[int(rng.integers(len(workers)))]
    g = g_by_id[w.grid_id]
    row: dict[str, Any] = {"scope": scope, "grid_ids": [], "community_id": None, "title": title, "body": body,
                           "picture_path": None, "urgent": urgent, "valid_until": when + timedelta(days=7),
                           "author": "街道指挥中心", "author_worker_id": None, "created_at": when,
                           "withdrawn_at": None}
    if scope == "community":
        row["community_id"] = g.community_id
    elif scope == "grid":
        row.update(grid_ids=[g.id], community_id=g.community_id, author=w.code, author_worker_id=w.id)
    return [row]
