"""/api/v1/departments: the maintained list the console routes cases to (issue 27 item 2).

Admins add, edit and remove departments (a community admin its own community's only); dispatchers read the
street's and their community's; every change is audited; a dispatch by ``department_id`` records the name.
"""
from __future__ import annotations

from sqlalchemy import select

from dashboard.models import AuditLog, Case, Dispatch
from dashboard.services.cases import CaseReport, report_case
from tests.api.conftest import make_key


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_admin_crud_audited_and_scoped(district):
    app, services, world = district
    c = app.test_client()
    admin = bearer(make_key(services, "admin"))
    c1, c2 = world["community_ids"]
    r = c.post("/api/v1/departments", json={"name": "城管执法中队", "contact": "李队 029-1234",
                                             "categories": ["0101", "0401"]}, headers=admin)
    assert r.status_code == 201, r.get_json()
    street_dept = r.get_json()
    assert street_dept["categories"] == ["0101", "0401"] and street_dept["community_id"] is None
    # bad input names the field
    for body, field in (({"contact": "x"}, "name"), ({"name": "甲", "categories": ["9999"]}, "categories"),
                        ({"name": "甲", "categories": "0101"}, "categories"), ({"name": "甲", "colour": 1}, "colour"),
                        ({"name": "甲", "community_id": 10 ** 6}, "community_id"), ({"name": "甲", "active": "yes"},
                                                                                  "active")):
        r = c.post("/api/v1/departments", json=body, headers=admin)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    assert c.post("/api/v1/departments", data="[1]", content_type="application/json", headers=admin).status_code == 400
    assert c.post("/api/v1/departments", json={"name": "城管执法中队"}, headers=admin).status_code == 409
    # a community admin: its own community only, the street's read-only, another's absent
    cadmin = bearer(make_key(services, "admin", community_id=c1))
    r = c.post("/api/v1/departments", json={"name": "一社区物业办", "categories": ["0601"]}, headers=cadmin)
    assert r.status_code == 201 and r.get_json()["community_id"] == c1
    own = r.get_json()
    assert c.post("/api/v1/departments", json={"name": "乙", "community_id": c2}, headers=cadmin).status_code == 403
    assert c.post("/api/v1/departments", json={"name": "乙", "community_id": None}, headers=cadmin).status_code == 403
    assert c.patch(f"/api/v1/departments/{street_dept['id']}", json={"contact": "x"}, headers=cadmin).status_code == 403
    other = c.post("/api/v1/departments", json={"name": "二社区物业办", "community_id": c2}, headers=admin).get_json()
    assert c.patch(f"/api/v1/departments/{other['id']}", json={"contact": "x"}, headers=cadmin).status_code == 404
    assert c.delete(f"/api/v1/departments/{other['id']}", headers=cadmin).status_code == 404
    r = c.patch(f"/api/v1/departments/{own['id']}", json={"contact": "王主任 139", "name": "一社区物业管理办"},
                headers=cadmin)
    assert r.status_code == 200 and r.get_json()["contact"] == "王主任 139"
    assert c.patch(f"/api/v1/departments/{own['id']}", json={"name": "城管执法中队"}, headers=cadmin).status_code == 409
    # readers: a community dispatcher sees the street's and its own, not another community's
    disp1 = bearer(make_key(services, "dispatcher", community_id=c1))
    names = [d["name"] for d in c.get("/api/v1/departments", headers=disp1).get_json()["items"]]
    assert sorted(names) == sorted(["城管执法中队", "一社区物业管理办"])
    assert c.get(f"/api/v1/departments/{other['id']}", headers=disp1).status_code == 404
    # category=… puts those that take it first
    items = c.get("/api/v1/departments?category=0601", headers=disp1).get_json()["items"]
    assert [d["name"] for d in items] == ["一社区物业管理办", "城管执法中队"]
    assert [d["takes"] for d in items] == [True, False]
    assert c.post("/api/v1/departments", json={"name": "丙"}, headers=disp1).status_code == 403
    assert c.get("/api/v1/departments?active=maybe", headers=disp1).get_json()["error"]["field"] == "active"
    # delete, and the audit log names every change
    assert c.delete(f"/api/v1/departments/{own['id']}", headers=cadmin).status_code == 200
    assert c.get(f"/api/v1/departments/{own['id']}", headers=admin).status_code == 404
    with services.db.read() as s:
        rows = s.execute(select(AuditLog.action, AuditLog.target).where(AuditLog.action.like("department_%"))
                         .order_by(AuditLog.id)).all()
    assert [a for a, _ in rows] == ["department_create", "department_create", "department_create",
                                    "department_edit", "department_delete"]
    assert rows[-1][1] == f"department:{own['id']}"


def test_openapi_documents_departments(district):
    app, services, _ = district
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/departments"])
    assert {"get", "patch", "delete"} <= set(doc["paths"]["/api/v1/departments/{department_id}"])
    assert "Department" in doc["components"]["schemas"]


def test_dispatch_to_listed_department(district):
    app, services, world = district
    c = app.test_client()
    admin = bearer(make_key(services, "admin"))
    c1, c2 = world["community_ids"]
    dept = c.post("/api/v1/departments", json={"name": "燃气公司抢修班", "contact": "96777"}, headers=admin).get_json()
    away = c.post("/api/v1/departments", json={"name": "二社区物业办", "community_id": c2}, headers=admin).get_json()
    lat, lon = world["centers"][0]  # grid 0 is in the left column: community 1
    with services.db.write() as s:
        case, _ = report_case(s, CaseReport(category_code="0401", lat=lat, lon=lon), locator=services.locator)
        cid, comm = case.id, case.community_id
    assert comm == c1
    disp = bearer(make_key(services, "dispatcher", community_id=c1))
    r = c.post(f"/api/v1/cases/{cid}/actions/dispatch", json={"department_id": away["id"]}, headers=disp)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "department_id"
    r = c.post(f"/api/v1/cases/{cid}/actions/dispatch", json={"department_id": "x"}, headers=disp)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "department_id"
    r = c.post(f"/api/v1/cases/{cid}/actions/dispatch", json={"department_id": dept["id"]}, headers=disp)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["department"] == "燃气公司抢修班"
    with services.db.read() as s:
        assert s.scalar(select(Dispatch.department).where(Dispatch.case_id == cid)) == "燃气公司抢修班"
        assert s.get(Case, cid).department == "燃气公司抢修班"
