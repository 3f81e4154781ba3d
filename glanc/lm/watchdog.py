"""One thread that ends calls past their deadline.

A socket timeout bounds each read, not a call: a server that sends a byte
every few seconds keeps a call alive for ever. Each call arms an alarm with
its deadline; past it, the watchdog shuts the call's socket down, the read
fails, and the engine reports a timeout. One thread for every call in the
process (a thread a call would cost more than the call's own CPU).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(order=True)
class Alarm:
    deadline: float
    order: int
    sock: Any = field(compare=False)
    fired: bool = field(default=False, compare=False)
    done: bool = field(default=False, compare=False)


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[Alarm] = []
        self._done = 0  # disarmed alarms still in the heap
        self._cond = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, sock: socket.socket) -> Alarm:
        """Shut ``sock`` down at ``deadline`` (``time.monotonic``) unless disarmed
        first. The socket itself, not its connection: ``http.client`` hands a
        closing connection's socket over to the response."""
        alarm = Alarm(deadline, next(self._count), sock)
        with self._cond:
            heapq.heappush(self._heap, alarm)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="glanc-watchdog",
                                                daemon=True)  # fmt: skip
                self._thread.start()
            self._cond.notify()
        return alarm

    def disarm(self, alarm: Alarm) -> None:
        with self._cond:
            alarm.done = True  # left in the heap; dropped when it comes up
            self._done += 1
            if self._done > 4096 and self._done * 2 > len(self._heap):
                # most calls end long before their deadline: compact now and then,
                # so the heap holds about the calls in flight, not a timeout's worth
                self._heap = [a for a in self._heap if not a.done]
                heapq.heapify(self._heap)
                self._done = 0

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0].done:
                    heapq.heappop(self._heap)
                    self._done = max(0, self._done - 1)
                if not self._heap:
                    self._cond.wait(60)
                    continue
                wait = self._heap[0].deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                alarm = heapq.heappop(self._heap)
                alarm.fired = True
                try:
                    alarm.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


WATCHDOG = Watchdog()
