"""Excel export (导出) of a ticket list, written with openpyxl's write-only workbook.

Rows are streamed from the database in chunks into a write-only sheet (constant memory), the
workbook goes to a temporary file and the response streams that file. Text that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) is stored as a string cell
with Excel's quote prefix, so opening an export can never execute what a caller typed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
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

from tickets.models import Ticket

EXPORT_MAX_ROWS = 100_000
CHUNK_SIZE = 2000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
EXPORT_RELATED = ("system", "vendor", "engineer")


def _name(user) -> str:
    return user.display_name if user else ""


COLUMNS: list[tuple[Any, Callable[[Ticket], Any]]] = [
    (gettext_lazy("工单号"), lambda t: t.number),
    (gettext_lazy("类型"), lambda t: t.get_kind_display()),
    (gettext_lazy("状态"), lambda t: t.get_status_display()),
    (gettext_lazy("故障级别"), lambda t: t.get_grade_display() if t.grade else ""),
    (gettext_lazy("业务系统"), lambda t: t.system.name if t.system else ""),
    (gettext_lazy("服务商"), lambda t: t.vendor.name if t.vendor else ""),
    (gettext_lazy("处理工程师"), lambda t: _name(t.engineer)),
    (gettext_lazy("标题"), lambda t: t.title),
    (gettext_lazy("报障人"), lambda t: t.requester_name),
    (gettext_lazy("报障时间"), lambda t: t.reported_at),
    (gettext_lazy("响应时限"), lambda t: t.response_due),
    (gettext_lazy("解决时限"), lambda t: t.resolution_due),
    (gettext_lazy("响应时间"), lambda t: t.responded_at),
    (gettext_lazy("解决时间"), lambda t: t.resolved_at),
    (gettext_lazy("关闭时间"), lambda t: t.closed_at),
]


def safe_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """A cell for ``value``: local naive datetimes (Excel has no zones), inert formula-like text."""
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=timezone.localtime(value).replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
        cell.quotePrefix = True  # and Excel keeps it text even when the cell is edited
        return cell
    return value


def write_tickets(tickets: Iterable[Ticket], target, *, max_rows: int | None = None) -> bool:
    """Write the sheet to ``target`` (a path or binary file); True if cut at ``max_rows``."""
    max_rows = EXPORT_MAX_ROWS if max_rows is None else max_rows
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("工单"))
    sheet.append([str(label) for label, _getter in COLUMNS])
    truncated = False
    for index, ticket in enumerate(tickets):
        if index >= max_rows:
            truncated = True
            break
        sheet.append([safe_cell(sheet, getter(ticket)) for _label, getter in COLUMNS])
    if truncated:
        note = _("仅导出前 %(max)s 行，请缩小筛选范围后再导出其余工单。") % {"max": max_rows}
        sheet.append([note])
    workbook.save(target)
    return truncated


def tickets_xlsx_response(queryset: QuerySet[Ticket]) -> FileResponse:
    """Stream the export of an (already permission-scoped and ordered) ticket queryset."""
    rows = queryset.select_related(*EXPORT_RELATED)[: EXPORT_MAX_ROWS + 1]
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
