"""Pictures of the reports for the README: the first page of each PDF report, and the first screen of each
sheet of each XLSX report, into ``docs/screenshots/report-*.png``.

A demo month (``central.attendance.demo_history.fill_month``: 36 employees in three departments on a day
shift, a night shift and three shifts, March 2026) is made in a temporary database; each report is written
by the product's own writers. A PDF's first page is drawn by ``pdftoppm`` (poppler-utils); a workbook is
converted to PDF by LibreOffice headless (``soffice``, package ``libreoffice-calc-nogui``: what a user's
spreadsheet program prints), and the first page of each sheet is found by its title and drawn the same way.

    python -m central.reports.screenshots [--out docs/screenshots]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
DPI = "100"
SHOTS: tuple[tuple[str, date, date], ...] = (
    ("monthly", *MARCH), ("summary", *MARCH), ("daily", date(2026, 3, 17), date(2026, 3, 17)),
    ("exceptions", *MARCH), ("payroll", *MARCH), ("punches", date(2026, 3, 17), date(2026, 3, 17)), ("leave", *MARCH),
)


class ScreenshotError(RuntimeError):
    pass


def _run(command: list[str], timeout: float = 180) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ScreenshotError(f"{command[0]} 未安装 is not installed (make screenshots installs poppler-utils and "
                              "libreoffice-calc-nogui)") from None
    if done.returncode != 0:
        raise ScreenshotError(f"{' '.join(command[:3])} … failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def pdf_pages(pdf: Path) -> int:
    for line in _run(["pdfinfo", str(pdf)]).splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise ScreenshotError(f"pdfinfo could not count the pages of {pdf}")


def draw_page(pdf: Path, page: int, png: Path) -> Path:
    stem = png.with_suffix("")
    _run(["pdftoppm", "-png", "-r", DPI, "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(stem)])
    return png


def workbook_pdf(xlsx: Path, folder: Path) -> Path:
    """The workbook as LibreOffice prints it (its own profile, so a desktop session is never touched)."""
    profile = folder / "lo-profile"
    _run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf", "--outdir",
          str(folder), str(xlsx)], timeout=300)
    return folder / (xlsx.stem + ".pdf")


def sheet_first_pages(pdf: Path, titles: list[str]) -> dict[str, int]:
    """The first page of each sheet: the first page whose text holds the part's title (row 1 of its sheet),
    leaving out the pages of the first sheet, which lists every sheet (its footer names it: 报表信息 About)."""
    from central.reports.xlsx_writer import ABOUT_TITLE

    found: dict[str, int] = {}
    for page in range(1, pdf_pages(pdf) + 1):
        text = _run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"])
        if ABOUT_TITLE in text:
            continue
        for title in titles:
            if title not in found and title in text:
                found[title] = page
    return found


def make_demo(database: Path) -> None:
    from central.django_setup import migrate, setup

    setup(database)
    migrate()
    from central.attendance.demo_history import fill_month
    from central.people.models import Site

    Site.objects.create(code="sh", name="上海工厂", time_zone="Asia/Shanghai")
    fill_month("sh", date(2026, 4, 1), device_id="sh-gate-01")
    leave_history()


def leave_history() -> None:
    """For the leave report: annual leave of 5 days a year whose untaken days carry over (3 at most, until the end of
    March), and leave HR recorded in 2025 for the first employees (with the company since 2024), so each carries a
    different number of days."""
    from decimal import Decimal

    from central.attendance.models import AttendanceProfile, LeaveType
    from central.attendance.requests import record_leave
    from central.people.models import Employee

    annual = LeaveType.objects.get(code="annual")
    annual.yearly_days, annual.carry_over_days, annual.carry_over_until, annual.carry_over_since = (
        Decimal(5), Decimal(3), 3, 2025)
    annual.save()
    for employee, days in zip(Employee.objects.order_by("number"), (4, 3, 2, 5), strict=False):
        AttendanceProfile.objects.filter(employee=employee).update(joined=date(2024, 1, 2))  # with the company longer
        record_leave(employee, annual, date(2025, 6, 2), date(2025, 6, 1 + days), reason="年假 annual leave",
                     actor="screenshots")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m central.reports.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots", help="output folder")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="seed-report-shots-"))
    written: list[Path] = []
    try:
        make_demo(folder / "central.db")
        from central.accounts.models import User
        from central.reports import registry
        from central.reports.registry import ReportParams

        user = User(username="screenshots", is_superuser=True)
        for name, first, last in SHOTS:
            report = registry.build(name, user, ReportParams(first, last))
            pdf, xlsx = folder / f"{name}.pdf", folder / f"{name}.xlsx"
            with pdf.open("wb") as f:
                registry.render(report, "pdf", f)
            with xlsx.open("wb") as f:
                registry.render(report, "xlsx", f)
            written.append(draw_page(pdf, 1, out / f"report-{name}-pdf.png"))
            converted = workbook_pdf(xlsx, folder)
            pages = sheet_first_pages(converted, [part.title for part in report.parts])
            for part in report.parts:
                if part.title in pages:
                    written.append(draw_page(converted, pages[part.title], out / f"report-{name}-xlsx-{part.key}.png"))
                else:
                    print(f"{name}: no page shows the sheet {part.title!r}", file=sys.stderr)
    except ScreenshotError as exc:
        print(f"report screenshots: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for path in written:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
