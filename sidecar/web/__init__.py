"""The studio web page: an ASGI app on the server's queue (layer: below server, above osc
transport: it calls the receiver's handlers and observes the replier; server.py starts it)."""

__all__ = ["DEFAULT_HTTP_PORT", "MAX_UPLOAD_BYTES"]

#: Where `sidecar serve` serves the page (beside OSC's 9310).
DEFAULT_HTTP_PORT = 9311
#: A clip sent from the page may be at most this big (a 10-minute 48 kHz stereo 24-bit WAV is
#: ~173 MB, but a continuation uses seconds of it: bring the excerpt).
MAX_UPLOAD_BYTES = 64 * 1024**2
