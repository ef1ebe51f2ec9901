"""③ The model worker's engines: MusicGen behind a narrow interface."""
