"""Which instances tagged with a workload's name are this ledger's: two workloads of one name
kept by two ledgers (two teams, one account) never take each other's instances.

A workload's identity is its name *and* the ledger that runs it: every launch is tagged
``costopt:owner`` with the ledger's own id (:meth:`~costopt.orchestrate.ledger.Ledger.owner_id`,
random, made once). An instance is this ledger's when its owner tag is this ledger's id; an
instance without the tag (launched before there was one) when the ledger knows it or the
plan it is tagged with. Everything else carrying the workload's name is *foreign*: it is not
observed, settled, adopted, claimed or ended - only reported. Pure.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from costopt.orchestrate.reconcile import ObservedInstance


@dataclass(frozen=True)
class Owner:
    """What makes an instance this ledger's: its id (None: none made yet, a dry run of a
    ledger that never launched), and the instances and plans it knows."""

    owner_id: str | None
    instance_ids: Collection[str]
    plan_ids: Collection[str]

    def owns(self, o: ObservedInstance) -> bool:
        if o.owner is not None:
            return o.owner == self.owner_id
        return o.instance_id in self.instance_ids or o.plan_id in self.plan_ids


def split_by_owner(observed: list[ObservedInstance], owner: Owner
                   ) -> tuple[list[ObservedInstance], list[ObservedInstance]]:
    """``(this ledger's instances, foreign ones)``, each in the order observed."""
    mine = [o for o in observed if owner.owns(o)]
    return mine, [o for o in observed if not owner.owns(o)]
