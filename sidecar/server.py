"""Server lifecycle: bind OSC, load and warm the model, serve, shut down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from sidecar.config import ServerConfig, check_network
from sidecar.engine.base import Engine
from sidecar.engine.selfcheck import check_conditioning
from sidecar.engine.separator import SeparatorSlot
from sidecar.errors import ModelLoadError, SidecarError
from sidecar.files.paths import PathPolicy, default_roots
from sidecar.jobs.journal import Journal
from sidecar.jobs.models import ModelManager
from sidecar.jobs.queue import Job, JobQueue, JobState
from sidecar.jobs.runner import JobRunner
from sidecar.jobs.worker import Worker
from sidecar.musical.presets import PresetLibrary, default_presets_dir
from sidecar.osc.receiver import OscReceiver, ServerState, ServerStateName
from sidecar.osc.replier import OscReplier
from sidecar.osc.schema import Cancelled, ErrorReply, GenerateRequest
from sidecar.output.delivery import Delivery
from sidecar.output.history import TakeHistory
from sidecar.web.app import StudioServer, bind_tcp, build_app
from sidecar.web.context import StudioContext
from sidecar.web.events import EventHub
from sidecar.web.uploads import UploadStore

__all__ = ["Server", "ServerConfig", "check_network"]

log = logging.getLogger(__name__)


class Server:
    """startup() → serve until a signal → shutdown(); `run()` returns the exit code."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.queue = JobQueue(config.queue_size)
        self.delivery = Delivery(config.output_dir)
        self.state = ServerState(model=config.model, device=config.device or "auto")
        self.engine: Engine | None = None
        self.runner: JobRunner | None = None
        self.models = ModelManager(self._load_one)
        self.worker: Worker | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._replier: OscReplier | None = None
        self.studio: StudioServer | None = None
        self._hub: EventHub | None = None
        self.journal: Journal | None = None
        self.history: TakeHistory | None = None
        self.presets: PresetLibrary | None = None
        output = self.delivery.output_dir
        self.policy = PathPolicy.of([*(config.allowed_roots or default_roots(output)), output])

    @property
    def listening(self) -> bool:
        """Whether the server has bound its socket (and so answers on its port)."""
        return self._transport is not None

    def request_stop(self) -> None:
        """Ask the server to shut down; safe from any thread (signal handlers, `sidecar demo`)."""
        if self._stop is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        try:
            check_network(self.config)
            self.delivery.ensure_writable()
            self.journal = Journal(self.delivery.output_dir)
            # The folder is this server's now (the journal holds it): no request has a preview.
            self.delivery.clear_previews()
            self.presets = _load_presets(self.config.presets_dir)
            self.history = TakeHistory.open(
                self.config.history_path or self.delivery.output_dir / "history.sqlite"
            )
        except SidecarError as e:
            log.error("%s", e.message)
            return 1
        for rid in self.journal.interrupted:
            job = Job(request=GenerateRequest(request_id=rid), reply_to=("", 0))
            job.state = JobState.INTERRUPTED
            self.queue.remember_finished(job)
        self._replier = OscReplier(loop)
        receiver = OscReceiver(
            self.queue,
            self._replier,
            self.state,
            self.policy,
            self.config.token,
            self.presets,
            self.history,
            self.models,
            self.switch_model,
        )
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: receiver, sock=_bind_udp(self.config.host, self.config.port)
            )
        except OSError as e:
            log.error("cannot listen on udp://%s:%d: %s", self.config.host, self.config.port, e)
            return 1
        self._transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        log.info("listening on udp://%s:%d (state: loading)", host, port)
        if self.config.http_port is not None:
            try:
                self.studio = self._start_studio(receiver, self._replier)
            except OSError as e:
                log.error(
                    "cannot serve the page on http://%s:%d: %s (--http-port to move it, "
                    "--no-http to go without)",
                    self.config.host,
                    self.config.http_port,
                    e,
                )
                transport.close()
                self.journal.close()
                return 1
        with _signals(loop, self.request_stop):
            try:
                await loop.run_in_executor(None, self._load)
            except ModelLoadError as e:
                log.error("%s", e.message)
                # Requests accepted while the model was loading get their one terminal answer.
                for job in self.queue.drain():
                    if job.finish(JobState.FAILED):
                        self._reply().reply(
                            job.reply_to, ErrorReply(job.request_id, e.code, e.message)
                        )
                await asyncio.sleep(0.05)  # let the replies leave the socket
                await self._stop_studio()
                transport.close()
                self.journal.close()
                return 1
            if self._stop.is_set():
                await self.shutdown()
                return 0
            self.state.state = self._serving_state()
            info = self._engine().info
            log.info(
                "%s: %s on %s (%s) — output in %s",
                self.state.state,
                info.name,
                info.device,
                info.dtype,
                self.delivery.output_dir,
            )
            await self._stop.wait()
            await self.shutdown()
        return 0

    def _start_studio(self, receiver: OscReceiver, replier: OscReplier) -> StudioServer:
        """The page, on the same queue: the hub sees every reply the replier sends."""
        hub = EventHub(asyncio.get_running_loop(), self.queue)
        replier.observers.append(hub.observe)
        output = self.delivery.output_dir
        sock = bind_tcp(self.config.host, self.config.http_port or 0)
        context = StudioContext(
            receiver=receiver,
            hub=hub,
            uploads=UploadStore(output, self.config.max_upload_bytes),
            files=PathPolicy.of([output]),
            port=int(sock.getsockname()[1]),
            token=self.config.token,
        )
        studio = StudioServer(build_app(context, self.config.host), sock)
        studio.start()
        self._hub = hub
        log.info("studio page on %s", studio.url)
        return studio

    async def _stop_studio(self) -> None:
        if self._hub is not None:
            self._hub.close()
        if self.studio is not None:
            await self.studio.stop()
            self.studio = None

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the engine is not loaded")
        return self.engine

    def _load_one(self, name: str) -> Engine:
        """Load and warm one model (start-up and `/sidecar/model/load`)."""
        from sidecar.engine.loader import load_engine

        engine = load_engine(
            name,
            self.config.device,
            self.config.decoder,
            self.config.engine_url,
            self.config.engine_token,
        )
        if self.config.warm_up:
            log.info("warming up %s", name)
            engine.warm_up()
        # One forward pass, warm-up or not: a model that ignores its text or melody is
        # served as degraded and refuses what it would silently ignore.
        check = check_conditioning(engine)
        if check is not None and not check.ok:
            log.error("%s", check.message)
        elif check is not None:
            log.info("self-check of %s passed: %s", name, check.summary())
        return engine

    def _serving_state(self) -> ServerStateName:
        """`ready`, or `degraded` when the current model's self-check found an ignored
        condition (its requests that use it get model_error)."""
        check = self.engine.conditioning if self.engine is not None else None
        return "degraded" if check is not None and not check.ok else "ready"

    def _load(self) -> None:
        from sidecar.post.warm import warm_up as warm_post

        engine = self._load_one(self.config.model)
        if self.config.warm_up:
            log.info("warming up the DSP path")
            warm_post()
        self.models.add(self.config.model, engine)
        self.state.device = engine.info.device
        self.engine = engine
        separators = SeparatorSlot(self.config.separator, engine.info.device)
        if self.config.load_separator:
            log.info("loading the separator %s", self.config.separator)
            separators.get()
        self.models.separators = separators
        self.runner = JobRunner(
            engine,
            self.delivery,
            self._reply(),
            self.policy,
            self.journal,
            self.history,
            separators,
        )
        self.worker = Worker(self.queue, self.runner, self.config.pipeline)
        self.worker.start()

    def switch_model(self, name: str) -> None:
        """Run on the worker between jobs: make `name` the model of the next jobs."""
        if self.runner is None:
            raise ModelLoadError("the server is still loading its first model")
        self.state.state = "loading"
        # Nothing but the model manager may hold the current model while the next one loads:
        # an eviction to make room must free it. Whatever happens, the runner then uses the
        # manager's current model (the new one, or the previous one, reloaded if it was evicted).
        self.engine = None
        self.runner.set_engine(None)
        try:
            self.models.switch(name)
        finally:
            self._use_current_model()
            self.state.state = self._serving_state()

    def _use_current_model(self) -> None:
        if self.runner is None:
            return
        try:
            engine = self.models.current
        except ModelLoadError:
            log.error("no model is loaded: requests fail until /sidecar/model/load succeeds")
            return
        self.engine = engine
        self.state.model = self.models.current_name or self.state.model
        self.state.device = engine.info.device
        self.runner.set_engine(engine)

    def _reply(self) -> OscReplier:
        if self._replier is None:
            raise RuntimeError("the server is not started")
        return self._replier

    async def shutdown(self) -> None:
        """Cancel what waits, let the running job stop at its next step, answer everyone."""
        log.info("shutting down")
        self.state.state = "stopping"
        replier = self._reply()
        for job in self.queue.drain():
            if job.finish(JobState.CANCELLED):
                replier.reply(job.reply_to, Cancelled(job.request_id))
        running = self.queue.running_jobs
        for job in running:
            job.cancel_event.set()
        loop = asyncio.get_running_loop()
        idle = await loop.run_in_executor(
            None, self.queue.wait_idle, self.config.shutdown_timeout_seconds
        )
        for job in running if not idle else ():
            if job.finish(JobState.CANCELLED):
                replier.reply(job.reply_to, Cancelled(job.request_id))
        await asyncio.sleep(0.05)  # let queued replies leave the socket
        await self._stop_studio()
        if self._transport is not None:
            self._transport.close()
        if self.history is not None and idle:
            self.history.close()
        if self.journal is not None and idle:
            self.journal.close()


def _load_presets(directory: Path | None) -> PresetLibrary:
    """The preset library; a broken preset file is logged (file and field) and skipped.

    A folder given with --presets must exist; without it, a missing shipped folder (an install
    without the repository's presets/) leaves the library empty.
    """
    folder = directory or default_presets_dir()
    if directory is None and not folder.is_dir():
        log.warning("no presets: %s does not exist", folder)
        return PresetLibrary(presets={}, directory=None)
    library = PresetLibrary.load(folder, strict=False)
    log.info("presets: %s", ", ".join(library.names()) or "none")
    return library


#: Kernel receive buffer for the server socket: a burst of requests from several clients must
#: not overflow it (the Linux default, ~208 KiB, holds only a few hundred small datagrams).
_RECEIVE_BUFFER_BYTES = 4 << 20


def _bind_udp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


@contextlib.contextmanager
def _signals(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Iterator[None]:
    handled = (signal.SIGINT, signal.SIGTERM)
    installed = []
    for sig in handled:
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
