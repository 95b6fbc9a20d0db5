"""Where the incremental rollup stands in the ledger.

The frequent rollup adds only the records that arrived since its last run. Record ids come from
a sequence, but a lower id can commit after a higher one was seen (two inserts in flight), so a
plain high-water mark would lose it. The cursor therefore keeps the mark and the ids below it
that were not visible when the mark passed them (`pending`: id -> when first missed). The next
run takes those that became visible; an id still missing after `ROLLUP_PENDING_TTL` is taken as
rolled back (a failed insert also consumes an id) and dropped; the nightly full recomputation
and the reconciliation catch the one that was not.

The invariant every rollup keeps: for every day, the rollup rows equal the sums of that day's
records with `id <= last_id` and id not pending ("the counted records").
"""

from django.db import models

LEDGER_CURSOR = "ledger"


class RollupCursor(models.Model):
    name = models.CharField(max_length=32, primary_key=True)
    last_id = models.BigIntegerField(default=0, help_text="Highest UsageRecord id counted")
    pending = models.JSONField(
        default=dict, blank=True, help_text="Ids below last_id not yet seen -> first missed (ISO)"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_id} ({len(self.pending)} pending)"
