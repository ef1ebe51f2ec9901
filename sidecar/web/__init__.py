"""The studio web page: an ASGI app (Starlette on uvicorn) in the server's process, on its queue.

What goes here: the page (static/), its HTTP and WebSocket routes, the guard (Host, Origin,
token), uploads and waveform peaks, and the bridge from the replier to the page's event stream.
Layer: below the server (server.py starts it), above the OSC transport: page requests run the
receiver's own handlers, and the replier's observers feed the events. May import: the OSC
transport (receiver, replier), jobs, output, musical, files, the OSC vocabulary, post, errors.
Never the server or the CLI.
"""

__all__ = ["DEFAULT_HTTP_PORT", "MAX_UPLOAD_BYTES"]

#: Where `sidecar serve` serves the page (beside OSC's 9310).
DEFAULT_HTTP_PORT = 9311
#: A clip sent from the page may be at most this big (a 10-minute 48 kHz stereo 24-bit WAV is
#: ~173 MB, but a continuation uses seconds of it: bring the excerpt).
MAX_UPLOAD_BYTES = 64 * 1024**2
