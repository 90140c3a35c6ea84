"""Request-wide middleware of the project."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/"


def _supported(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


class LanguageMiddleware:
    """Pages are in Simplified Chinese unless the user chose English in the language menu.

    Django's ``LocaleMiddleware`` would follow the browser's ``Accept-Language``: the centre's
    staff on an English-language system would get English pages nobody asked for. The menu's
    choice (``set_language``'s cookie) still wins. API clients name their language the HTTP
    way, so ``/api/`` keeps Django's order: cookie, ``Accept-Language``, the default.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = request.path_info.startswith(API_PREFIX)
        if is_api:
            language = translation.get_language_from_request(request)
        else:
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            language = _supported(chosen) or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

        response = self.get_response(request)

        patch_vary_headers(response, ("Accept-Language",) if is_api else ("Cookie",))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
