"""The ``DomainError`` family and the one place that maps it to HTTP.

Services raise these; the API exception handler turns them into
``{"code": ..., "detail": ...}`` responses and HTML views show ``str(error)`` as a form error.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """Base class: a stable machine-readable ``code`` and a translatable message."""

    code = "domain_error"
    http_status = status.HTTP_400_BAD_REQUEST
    default_message = _("请求无法处理。")

    def __init__(self, message: Any = None, *, field: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.field = field
        super().__init__(str(self.message))

    def __str__(self) -> str:
        return str(self.message)


class ValidationFailed(DomainError):
    code = "invalid"
    http_status = status.HTTP_400_BAD_REQUEST
    default_message = _("输入无效。")


class NotPermitted(DomainError):
    code = "permission_denied"
    http_status = status.HTTP_403_FORBIDDEN
    default_message = _("您无权执行此操作。")


class NotFound(DomainError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND
    default_message = _("对象不存在。")


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT
    default_message = _("与当前状态冲突。")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _("当前状态不允许此操作。")


class StaleVersion(Conflict):
    code = "stale_version"
    default_message = _("该记录已被他人修改，请刷新后重试。")


def domain_error_response(error: DomainError) -> Response:
    body: dict[str, Any] = {"code": error.code, "detail": str(error)}
    if error.field:
        body["field"] = error.field
        body[error.field] = [str(error)]
    return Response(body, status=error.http_status)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: domain errors keep their code; Django's own map as DRF's do."""
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        return Response(
            {"code": "not_found", "detail": str(NotFound.default_message)},
            status=status.HTTP_404_NOT_FOUND,
        )
    if isinstance(exc, DjangoPermissionDenied):
        return Response(
            {"code": "permission_denied", "detail": str(NotPermitted.default_message)},
            status=status.HTTP_403_FORBIDDEN,
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "code" not in response.data:
        default_code = getattr(exc, "default_code", None)
        if default_code and "detail" in response.data:
            response.data["code"] = default_code
    return response
