"""Events and stores that SimPy processes before any ordinary event of the same instant.

A hand-over through a store or an event takes a trip through SimPy's event queue. At the default priority
that trip would let every ordinary event already due at the same instant (a downlink slot, a report) run
first, so the hand-over would no longer act at the point in the timeline where a direct call acts. These
helpers schedule the trip with SimPy's ``URGENT`` priority, the way SimPy's own ``Initialize`` and
``Interruption`` events are scheduled: a chain of them completes before the next ordinary event of the
same instant, so handing a packet over through a store orders state changes exactly as a direct call did.
"""

from __future__ import annotations

from typing import Any

import simpy
from simpy.events import URGENT
from simpy.resources.store import StoreGet, StorePut


def succeed_at_once(event: simpy.Event, value: Any = None) -> simpy.Event:
    """Like ``event.succeed(value)``, but processed before every ordinary event of the current instant."""
    if event.triggered:
        raise RuntimeError(f"{event} has already been triggered")
    # SimPy's Initialize sets these two fields and schedules itself URGENT; Event.succeed offers no priority.
    event._ok = True
    event._value = value
    event.env.schedule(event, URGENT)
    return event


class ImmediateStore(simpy.Store):
    """An unbounded FIFO ``simpy.Store`` whose puts and gets are processed at ``URGENT`` priority.

    A getter waiting on it resumes in the same instant as the put, before any ordinary event of that instant.
    """

    def _do_put(self, event: StorePut) -> bool | None:
        self.items.append(event.item)
        succeed_at_once(event)
        return None

    def _do_get(self, event: StoreGet) -> bool | None:
        if self.items:
            succeed_at_once(event, self.items.pop(0))
        return None
