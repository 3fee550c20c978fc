from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M`; the page size is capped so that no request reads a whole case."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
