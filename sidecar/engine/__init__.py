"""④ The engine: MusicGen behind a narrow interface (`Engine`, `GenerationSpec`), our own decode
loop (exact, fp32, fast, int8, the CUDA graph), the EnCodec codec, chroma, and tiny models built
in code for tests.

What goes here: a new engine or decoder mode, anything that turns a `GenerationSpec` into audio.
May import: errors only (and torch/transformers). Never post, takes, jobs, output or OSC.
"""
