"""The studio web page: an ASGI app on the server's queue (layer: below server, above osc
transport: it uses the receiver's handlers and the replier's observers; server.py starts it)."""
