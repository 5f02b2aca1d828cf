"""Request-level guards for /api/ that no single view can give: input PostgreSQL cannot hold, and a lost database.

PostgreSQL refuses NUL characters in text, so a `\\x00` in a query parameter
would reach the database as a query error; it is refused here as the bad input
it is (400; in the path, 404: no resource is named that). A view that cannot
reach the database answers 503 SERVICE_UNAVAILABLE with Retry-After instead of
a 500, so clients and load balancers back off and retry; handler500 does the
same for a failure raised outside the view (another middleware).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from rest_framework import status

from .errors import database_unavailable, database_unavailable_response, envelope_response, is_api_request


class ApiGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            if "\x00" in request.path:
                return envelope_response("NOT_FOUND", "Not found.", status.HTTP_404_NOT_FOUND)
            offending = sorted({name for name, values in request.GET.lists()
                                if "\x00" in name or any("\x00" in value for value in values)}
                               ) if request.META.get("QUERY_STRING") else []  # no query: nothing to parse
            if offending:
                return envelope_response(
                    "VALIDATION_ERROR", "The request is not valid.", status.HTTP_400_BAD_REQUEST,
                    {name.replace("\x00", "\\u0000"): ["May not contain NUL characters."] for name in offending},
                )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api_request(request) and database_unavailable(exception):
            return database_unavailable_response()
        return None
