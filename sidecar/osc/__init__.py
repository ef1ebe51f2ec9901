"""①/⑥ The OSC protocol. Its vocabulary, which every stage may use: `addresses` (every address),
`fields` (every request field: type, range, default, help) and `schema` (frozen request and reply
dataclasses). Its transport, at the top of the house: `receiver` (① parse, validate, resolve
against the preset, enqueue, answer), `take_handlers`, `replier` (⑥ replies), `client`, `docs`.

What goes here: a new request key (a `FieldSpec` in `fields`, then `schema`) or address. The
vocabulary imports only musical (stem names), files' rules, post (key names) and errors; the
transport may import jobs and everything below it, never the server or the CLI.
"""
