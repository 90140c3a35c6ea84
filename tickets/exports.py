"""Excel export (导出) of a ticket list, written with openpyxl's write-only workbook.

Rows are streamed from the database in chunks into a write-only sheet (constant memory), the
workbook goes to a temporary file and the response streams that file. Text that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) is stored as a string cell
with Excel's quote prefix, so opening an export can never execute what a caller typed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from directory.models import NAME_FIELDS, display_name
from tickets.models import Grade, Kind, Status, Ticket

EXPORT_MAX_ROWS = 100_000
CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

HEADERS = [
    gettext_lazy("工单号"),
    gettext_lazy("类型"),
    gettext_lazy("状态"),
    gettext_lazy("故障级别"),
    gettext_lazy("业务系统"),
    gettext_lazy("服务商"),
    gettext_lazy("处理工程师"),
    gettext_lazy("标题"),
    gettext_lazy("报障人"),
    gettext_lazy("报障时间"),
    gettext_lazy("响应时限"),
    gettext_lazy("解决时限"),
    gettext_lazy("响应时间"),
    gettext_lazy("解决时间"),
    gettext_lazy("关闭时间"),
]
# What the sheet reads, as plain values: a model instance (with its system, vendor and
# engineer) per row cost more than writing the row. The engineer comes as ``User.display_name``
# does (full name, else first and last name, else login); the times are the last six.
VALUE_COLUMNS = (
    "number",
    "kind",
    "status",
    "grade",
    "system__name",
    "vendor__name",
    *(f"engineer__{name}" for name in NAME_FIELDS),
    "title",
    "requester_name",
    "reported_at",
    "response_due",
    "resolution_due",
    "responded_at",
    "resolved_at",
    "closed_at",
)


def text_cell(sheet: WriteOnlyWorksheet, value: str | None) -> Any:
    """Text as a cell: formula-like text (``=``, ``+``, ``-``, ``@``, tab, CR first) stays inert."""
    if value and value.startswith(FORMULA_PREFIXES):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
        cell.quotePrefix = True  # and Excel keeps it text even when the cell is edited
        return cell
    return value


def time_cell(sheet: WriteOnlyWorksheet, value: datetime | None, tz) -> Any:
    """A local naive datetime (Excel has no zones) shown as ``DATETIME_FORMAT``."""
    if value is None:
        return None
    cell = WriteOnlyCell(sheet, value=value.astimezone(tz).replace(tzinfo=None))
    cell.number_format = DATETIME_FORMAT
    return cell


def _sheet_rows(rows: Iterable[tuple], sheet: WriteOnlyWorksheet) -> Iterator[list]:
    """``VALUE_COLUMNS`` tuples as sheet rows; labels translated once, not per row."""
    kinds = {value: str(label) for value, label in Kind.choices}
    statuses = {value: str(label) for value, label in Status.choices}
    grades = {value: str(label) for value, label in Grade.choices}
    tz = timezone.get_current_timezone()
    for row in rows:
        number, kind, status, grade, system, vendor = row[:6]
        names, (title, requester), times = row[6:10], row[10:12], row[12:]
        engineer = display_name(*names) if names[0] is not None else ""
        yield [
            number,
            kinds.get(kind, kind),
            statuses.get(status, status),
            grades.get(grade, "") if grade else "",
            text_cell(sheet, system or ""),
            text_cell(sheet, vendor or ""),
            text_cell(sheet, engineer),
            text_cell(sheet, title),
            text_cell(sheet, requester),
            *(time_cell(sheet, moment, tz) for moment in times),
        ]


def write_tickets(rows: Iterable[tuple], target, *, max_rows: int | None = None) -> bool:
    """Write ``VALUE_COLUMNS`` rows to ``target`` (a path or binary file); True if cut at
    ``max_rows``."""
    max_rows = EXPORT_MAX_ROWS if max_rows is None else max_rows
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("工单"))
    sheet.append([str(label) for label in HEADERS])
    truncated = False
    for index, values in enumerate(_sheet_rows(rows, sheet)):
        if index >= max_rows:
            truncated = True
            break
        sheet.append(values)
    if truncated:
        note = _("仅导出前 %(max)s 行，请缩小筛选范围后再导出其余工单。") % {"max": max_rows}
        sheet.append([note])
    workbook.save(target)
    return truncated


def tickets_xlsx_response(queryset: QuerySet[Ticket]) -> FileResponse:
    """Stream the export of an (already permission-scoped and ordered) ticket queryset."""
    rows = queryset.select_related(None).values_list(*VALUE_COLUMNS)[: EXPORT_MAX_ROWS + 1]
    # Closed by FileResponse once streamed; deleted by the OS on close.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    truncated = write_tickets(rows.iterator(chunk_size=CHUNK_SIZE), spool, max_rows=EXPORT_MAX_ROWS)
    spool.seek(0)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"tickets-{stamp}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["X-Export-Truncated"] = "1" if truncated else "0"
    return response
