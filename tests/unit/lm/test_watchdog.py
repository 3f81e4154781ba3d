"""The watchdog ends a call at its whole-call deadline, and only then."""

import socket
import time

from glanc.lm.watchdog import Watchdog


def test_an_alarm_past_its_deadline_shuts_the_socket_and_a_disarmed_one_does_not():
    watchdog = Watchdog()
    late, peer = socket.socketpair()
    kept, other = socket.socketpair()
    alarm = watchdog.arm(time.monotonic() + 0.2, late)
    spared = watchdog.arm(time.monotonic() + 0.2, kept)
    watchdog.disarm(spared)
    time.sleep(0.6)
    assert alarm.fired and late.recv(10) == b""  # shut down: a read ends at once
    assert not spared.fired
    other.sendall(b"x")
    assert kept.recv(10) == b"x"
    for s in (late, peer, kept, other):
        s.close()


def test_disarmed_alarms_do_not_pile_up():
    watchdog = Watchdog()
    a, b = socket.socketpair()
    for _ in range(20_000):  # calls that end long before their deadline
        watchdog.disarm(watchdog.arm(time.monotonic() + 120, a))
    assert len(watchdog._heap) <= 8192
    a.close()
    b.close()
