"""A real TCP forwarder on loopback that a test can cut, as a network that drops mid-stream."""

from __future__ import annotations

import socket
import threading

__all__ = ["TcpForwarder"]


class TcpForwarder:
    """Accepts on `listen_port` and relays every connection to `target_port`, both ways, until
    `cut()` closes every socket at once (the peers see their connections reset or ended)."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.target_port = target_port
        self._server = socket.create_server(("127.0.0.1", listen_port))
        self._sockets: list[socket.socket] = [self._server]
        self._lock = threading.Lock()
        self.connections = 0
        self.bytes_relayed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                with self._lock:
                    self.bytes_relayed += len(chunk)
        except OSError:
            pass  # the other direction closed it, or cut() did: this relay is over either way
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed
                s.close()

    def cut(self) -> None:
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # not connected (the listening socket) or already closed
                s.close()
