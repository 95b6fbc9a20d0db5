"""CSV export of the daily usage report (`/api/usage/daily.csv` or `?format=csv`)."""

import csv
import io
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from usage.models.daily import TOKEN_FIELDS

CSV_COLUMNS: tuple[str, ...] = (
    "requests",
    "errors",
    "error_rate",
    *TOKEN_FIELDS,
    "total_tokens",
    "cost",
    "unpriced_calls",
    "latency_ms_mean",
    "latency_ms_p95",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula (a service named "=HYPERLINK(..)")."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


class DailyUsageCSVRenderer(BaseRenderer):
    """Renders DailyListSerializer data: one line per day (and group)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        grouped = bool(data.get("group_by"))
        writer.writerow(["day", *(["group"] if grouped else []), *CSV_COLUMNS])
        for row in data["results"]:
            writer.writerow(
                [
                    row["day"],
                    *([_cell(row.get("group"))] if grouped else []),
                    *(_cell(row[column]) for column in CSV_COLUMNS),
                ]
            )
        return out.getvalue().encode(self.charset)
