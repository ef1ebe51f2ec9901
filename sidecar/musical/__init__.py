"""② Musical control: presets (TOML, validated), prompt templates, effect chains and stem-set
prompts, and resolving a request against its preset.

What goes here: a new preset key, effect or prompt rule. May import: files, the OSC vocabulary
(fields, schema), post ⑤ (keys, channels), engine, errors. Never takes, jobs, output, the OSC
transport, the server or the CLI.
"""
