"""Admin lists over big tables without a full-table COUNT(*).

Django's changelist counts every row to paginate. On an unfiltered list of a large table the
count comes from PostgreSQL's statistics (pg_class.reltuples) instead; a filtered list is
counted only up to COUNT_CAP rows (a page link beyond is never needed in practice).

A list that always leaves a few rows out (the job list: no credit notes' pipelines) says so with
`baseline_filter`: without any filter of the person's, it is counted as unfiltered.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    baseline_filter = False  # the queryset's only condition is the list's own (see above)

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and (self.baseline_filter or not queryset.query.where):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > COUNT_CAP:
                return int(row[0])
        return queryset.order_by()[: COUNT_CAP + 1].count()
