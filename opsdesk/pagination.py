from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Page-number pagination with a ``count``; clients may ask for up to a capped page size."""

    page_size = 25
    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return settings.OPSDESK_API_MAX_PAGE_SIZE
