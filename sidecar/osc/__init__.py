"""OSC protocol of the sidecar: addresses, request and reply schemas, receiver and replier."""
