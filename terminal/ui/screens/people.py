"""Admin: find employees by number or name, look at one, delete with confirmation."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from kivy.properties import BooleanProperty, StringProperty

from terminal.i18n import t
from terminal.ui.screens.base import KioskScreen
from terminal.ui.screens.employee import initials
from terminal.ui.widgets import SeedButton

log = logging.getLogger(__name__)

LIST_LIMIT = 100


class EmployeeRow(SeedButton):
    number = StringProperty("")


class EmployeesScreen(KioskScreen):
    route = StringProperty("paused")
    count_text = StringProperty("")

    def on_pre_enter(self, *_: Any) -> None:
        self.rows: list[dict] = []
        self.search(self.ids.search.text)

    def search(self, text: str) -> None:
        self._query = text.strip()
        self.app.find_employees(self._query, LIST_LIMIT, self._found)

    def _found(self, query: str, rows: list[dict]) -> None:
        if query != getattr(self, "_query", query):
            return  # an older search answered late
        self.rows = rows
        self.on_language()

    def on_language(self) -> None:
        lang = self.app.lang
        box = self.ids.rows
        box.clear_widgets()
        rows = getattr(self, "rows", [])
        self.count_text = t("emp.count", lang, n=len(rows)) if rows else t("emp.none", lang)
        for row in rows:
            label = f"{row['number']}   {row['name']}"
            if row.get("department"):
                label += f"   · {row['department']}"
            if row.get("role") == "admin":
                label += f"   [{t('emp.role_admin', lang)}]"
            button = EmployeeRow(text=label, number=row["number"], name=f"employee:{row['number']}")
            button.bind(on_release=lambda b: self.app.open_employee(b.number))
            box.add_widget(button)


class EmployeeScreen(KioskScreen):
    route = StringProperty("paused")
    person_name = StringProperty("")
    details = StringProperty("")
    message = StringProperty("")
    initials = StringProperty("")
    confirming = BooleanProperty(False)
    deleted = BooleanProperty(False)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.employee: dict | None = None
        self.faces = self.fingers = 0

    def show(self, employee: dict, photo: np.ndarray | None, faces: int, fingers: int) -> None:
        self.employee = employee
        self.faces, self.fingers = faces, fingers
        self.person_name = f"{employee['name']}  ({employee['number']})"
        self.initials = initials(employee["name"])
        self.confirming = False
        self.deleted = False
        self.message = ""
        self.ids.photo.set_image(photo)
        self.on_language()

    def on_language(self) -> None:
        lang = self.app.lang
        employee = getattr(self, "employee", None)
        if not employee:
            return
        lines = []
        if employee.get("department"):
            lines.append(t("emp.department", lang, department=employee["department"]))
        lines.append(t("emp.templates", lang, faces=self.faces, fingers=self.fingers))
        lines.append(t("emp.card", lang, card=employee.get("card") or t("common.none", lang)))
        lines.append(t("emp.has_pin" if employee.get("has_pin") else "emp.no_pin", lang))
        lines.append(t("emp.mode", lang, mode=employee.get("verify_mode", "")))
        if employee.get("role") == "admin":
            lines.append(t("emp.role_admin", lang))
        self.details = "\n".join(lines)
        if self.confirming:
            self.message = t("emp.confirm_delete", lang, name=employee["name"], number=employee["number"])
        elif self.deleted:
            self.message = t("emp.deleted", lang, name=employee["name"], number=employee["number"])

    def on_confirming(self, *_: Any) -> None:
        if not self.confirming and not self.deleted:
            self.message = ""
        self.on_language()

    def ask_delete(self) -> None:
        self.confirming = True

    def delete(self) -> None:
        self.app.delete_employee(self.employee, self._deleted)

    def _deleted(self, ok: bool, detail: str) -> None:
        self.deleted = ok
        self.confirming = False
        if ok:
            self.on_language()
            self.app.toast(self.message)
            self.app.admin_open("employees")
        else:
            self.message = detail

    def enrol(self, screen: str) -> None:
        self.app.admin_open(screen, employee=self.employee)
