"""GET /sites and /departments: the places within the caller's scope."""
from __future__ import annotations

from ninja import Query, Router

from central.accounts import scope
from central.api.auth import caller
from central.api.routers.common import CODE
from central.api.schemas import ERRORS, DepartmentOut, SiteOut

router = Router(tags=["sites 站点"])


@router.get("/sites", response={200: list[SiteOut], **ERRORS}, summary="站点列表 / sites in your scope")
def list_sites(request):
    return [{"code": s.code, "name": s.name, "time_zone": s.time_zone} for s in scope.sites(caller(request)).order_by("code")]


@router.get("/departments", response={200: list[DepartmentOut], **ERRORS}, summary="部门列表 / departments in your scope")
def list_departments(request, site: str | None = Query(None, pattern=CODE, description="只看该站点 / only this site code")):
    rows = scope.departments(caller(request)).select_related("site").order_by("site__code", "name")
    if site:
        rows = rows.filter(site__code=site)
    return [{"id": d.pk, "site": d.site.code, "name": d.name} for d in rows]
