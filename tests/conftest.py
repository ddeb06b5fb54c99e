"""Shared fixtures for the server tests: an app in threading mode with the
ticker off (tests call manager.tick() themselves) and a fake monotonic clock."""

import pytest

from playground import create_app


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def app():
    return create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False})


@pytest.fixture
def manager(app):
    return app.extensions["playground"].manager


@pytest.fixture
def clock(manager):
    c = FakeClock()
    manager.clock = c
    return c


@pytest.fixture
def connect(app):
    """connect() -> a new Socket.IO test client; all are disconnected afterwards."""
    socketio = app.extensions["playground"].socketio
    clients = []

    def _connect():
        c = socketio.test_client(app)
        clients.append(c)
        return c

    yield _connect
    for c in clients:
        if c.is_connected():
            c.disconnect()


@pytest.fixture
def http(app):
    return app.test_client()
