"""① Which files a request may read: allowed roots, symlinks resolved first, regular files only."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import ForbiddenError, NotFoundError
from sidecar.files.audiofile import check_clip_path

__all__ = ["PathPolicy", "default_roots"]


def default_roots(output_dir: Path) -> tuple[Path, ...]:
    """The user's home, the output directory and the system temp directory."""
    return (Path.home(), output_dir, Path(tempfile.gettempdir()))


@dataclass(frozen=True)
class PathPolicy:
    """Clips are read only from inside `roots`, after following every symlink."""

    roots: tuple[Path, ...]

    @classmethod
    def of(cls, roots: Iterable[Path]) -> PathPolicy:
        resolved = []
        for root in roots:
            try:
                resolved.append(Path(root).expanduser().resolve())
            except OSError:
                continue
        return cls(tuple(dict.fromkeys(resolved)))

    def check_clip(self, raw: str, field: str = "clip") -> Path:
        """The resolved path of a readable regular file inside a root, or a clear error."""
        path = Path(raw)
        if not path.is_absolute():
            raise ForbiddenError(f"{field}: '{raw}' is not an absolute path; send the full path")
        try:
            resolved = path.resolve(strict=True)
        except FileNotFoundError as e:
            raise NotFoundError(f"{field}: file '{raw}' does not exist") from e
        except (OSError, RuntimeError) as e:
            raise NotFoundError(f"{field}: cannot resolve '{raw}': {e}") from e
        if not any(resolved.is_relative_to(root) for root in self.roots):
            allowed = ", ".join(str(r) for r in self.roots)
            shown = raw if str(resolved) == raw else f"{raw}' → '{resolved}"
            raise ForbiddenError(
                f"{field}: '{shown}' is outside the allowed folders ({allowed}); "
                "start the server with --allow-root to add one"
            )
        check_clip_path(resolved, field)
        return resolved
