"""The API served by uvicorn on a free loopback port, in a thread of this process: what the demo
and the API benchmark run (``gridshift server`` runs uvicorn in the foreground instead)."""

from __future__ import annotations

import threading
import time

from gridshift.api.app import create_app
from gridshift.api.runtime import Runtime
from gridshift.domain import GridshiftError

START_TIMEOUT_S = 30.0


class ServerThread:
    """``with ServerThread(runtime) as url:`` — the app (its lifespan starts the engine) until
    the block ends."""

    def __init__(self, runtime: Runtime) -> None:
        import uvicorn

        config = uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=0, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise GridshiftError("the API server did not start (see the log above)")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
