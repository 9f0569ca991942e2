"""The layout: which jobs each instance carries, on how many of its GPUs, and when.

The LP packs GPU-hours per pool and period (``packing``), a relaxation: it never checks
that the jobs it puts on one instance fit its GPUs *at once*. The fleet schedule
(``fleet.py``) turns a pool's instance-hours into runs of whole instances; this module lays
each block's (the LP's run of identical periods) jobs out on those runs' working time
(after setup), GPU by GPU:

- a job is *gangs* of ``gpus`` GPUs on one instance (the GPUs of one gang are used together,
  from one instant to another); it needs ``h / gpus`` gang-hours in the block, and runs at
  most ``parallel`` gangs at any instant (one at a time for most jobs), on any instances;
- jobs are placed widest first, then longest, each into the instance where a gang of it can
  run longest from the earliest instant its GPUs are free (its pieces on several instances
  never overlap in time beyond ``parallel``), split at an instance's end and continued on
  another where it does not fit whole;
- where that leaves some job short, the pieces are laid out again filling lanes the other
  way (McNaughton's wrap-around): each gang goes on the GPUs that are free *latest* (but
  before the instance's end), and what does not fit there wraps to GPUs free earlier -
  so three 3-GPU jobs of 13.3 h fit one 8-GPU instance for 20 h, the third split around
  the others; the layout with less short wins;
- what cannot be placed is *short*: the layout needs more instance time than the LP bought.

The planner then teaches the LP what the layout needs (``model.py``, ``layout`` rows: a job
that cannot run beside the wide ones on one instance at once needs instance time of its own)
and solves again; a plan whose layout stays short is infeasible, with the job and the pool.
Pure: numbers in, placements out; times in microseconds (``fleet.TICK``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SHORT_TOL = 2_000_000
"""Microseconds of a job's time left unplaced that are rounding, not a shortage (2 s)."""


@dataclass(frozen=True)
class Piece:
    """Job ``job``'s work on one pool in one block: ``micros`` of gang-time, each gang of
    ``gpus`` GPUs, at most ``parallel`` gangs at once."""

    job: str
    gpus: int
    micros: int
    parallel: int = 1


@dataclass(frozen=True)
class Placement:
    """Gang-time of ``job`` on bin ``bin``: ``gpus`` GPUs over ``[start, end)``."""

    bin: int
    job: str
    gpus: int
    start: int
    end: int


@dataclass
class _Bin:
    start: int
    end: int
    free: list[int]  # per GPU: the instant it is free from

    def chosen(self, gpus: int, latest: bool) -> list[int]:
        """The ``gpus`` GPUs a gang takes: those free earliest, or (``latest``) those free
        latest before the instance's end (none where too few are)."""
        order = sorted(range(len(self.free)), key=self.free.__getitem__)
        if latest:
            order = [i for i in reversed(order) if self.free[i] < self.end]
        return order[:gpus] if len(order) >= gpus else []

    def earliest(self, gpus: int, latest: bool = False) -> int:
        """The first instant the ``gpus`` GPUs of :meth:`chosen` are all free (the
        instance's end where there are none)."""
        chosen = self.chosen(gpus, latest)
        return max([self.start] + [self.free[i] for i in chosen]) if chosen else self.end

    def take(self, gpus: int, until: int, latest: bool = False) -> None:
        """The GPUs of :meth:`chosen` are busy until ``until``."""
        for i in self.chosen(gpus, latest):
            self.free[i] = until


@dataclass
class Layout:
    """The placements of one block, and each job's gang-time left unplaced (microseconds)."""

    placements: list[Placement] = field(default_factory=list)
    short: dict[str, int] = field(default_factory=dict)


def lay_out(bins: Sequence[tuple[int, int]], gpus_per_node: int, pieces: Sequence[Piece],
            busy: Mapping[str, Sequence[tuple[int, int]]] | None = None) -> Layout:
    """Place ``pieces`` on instances of ``gpus_per_node`` GPUs working over ``bins``
    (``[start, end)`` each, one per instance's run in the block) - the module docstring's
    greedy - beside each job's gangs ``busy`` elsewhere (other pools), one gang each. A
    piece wider than the instance is all short."""
    first = _greedy(bins, gpus_per_node, pieces, busy or {}, latest=False)
    if not first.short:
        return first
    wrapped = _greedy(bins, gpus_per_node, pieces, busy or {}, latest=True)
    return wrapped if sum(wrapped.short.values()) < sum(first.short.values()) else first


def _greedy(bins: Sequence[tuple[int, int]], gpus_per_node: int, pieces: Sequence[Piece],
            busy: Mapping[str, Sequence[tuple[int, int]]], *, latest: bool) -> Layout:
    """One pass of the module docstring's greedy: each gang on the GPUs free earliest, or
    (``latest``) on those free latest, wrapping what does not fit to GPUs free earlier:
    where no instance's latest-free GPUs leave a gang of the job any time (they are taken
    to the instance's end, or the job's own piece there blocks them), its GPUs free
    earliest, up to where that piece begins. (Without that wrap, a 1-GPU job of 24 h
    beside a sweep that left one GPU free 1 ms before the end was placed in that
    millisecond and found no GPU for the rest, though two were free all day: CBC's
    rounding of the same solution gave the sweep that millisecond and the two solvers
    planned 37.07 and 50.52 USD.)"""
    open_bins = [_Bin(s, e, [s] * gpus_per_node) for s, e in bins]
    out = Layout()
    for piece in sorted(pieces, key=lambda p: (-p.gpus, -p.micros, p.job)):
        left = piece.micros
        mine = list(busy.get(piece.job, ()))  # the job's gangs running already
        while left > SHORT_TOL and piece.gpus <= gpus_per_node:
            best: tuple[tuple[int, ...], int, int, int, bool] | None = None
            # (key, start, length, bin, on the GPUs free latest)
            for i, b in enumerate(open_bins):
                for late in (True, False) if latest else (False,):
                    start, end = _clear_of(mine, b.earliest(piece.gpus, late), b.end, left,
                                           piece.parallel)
                    length = end - start
                    key = (late, start, length) if latest else (length, -start)
                    if length > 0 and (best is None or key > best[0]):
                        best = (key, start, length, i, late)
            if best is None:
                break
            _key, start, length, i, late = best
            open_bins[i].take(piece.gpus, start + length, late)
            out.placements.append(Placement(i, piece.job, piece.gpus, start, start + length))
            mine.append((start, start + length))
            left -= length
        if left > SHORT_TOL:
            out.short[piece.job] = out.short.get(piece.job, 0) + left
    return out


def _clear_of(mine: list[tuple[int, int]], start: int, limit: int, left: int,
              parallel: int) -> tuple[int, int]:
    """The first stretch from ``start`` (up to ``left`` long, ending by ``limit``) where a
    gang of the job may run with fewer than ``parallel`` of its gangs beside it throughout
    (its pieces on several instances run one after another, or side by side up to
    ``parallel``): cut short where another of its pieces begins, or moved to where one
    ends. Empty when there is none."""
    end = min(limit, start + left)
    while start < end:
        over = [(s, e) for s, e in mine if s < end and start < e]
        if len(over) < parallel:
            return start, end
        later = [s for s, _e in over if s > start]
        if later:
            end = min(later)
        else:
            start = min(e for s, e in over if s <= start)
            end = min(limit, start + left)
    return start, start
