"""Shared API plumbing: pagination and the organization-scoped viewset base."""

from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination: stable under inserts and cheap on large tables (no COUNT)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-created_at"
