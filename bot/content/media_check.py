"""`content check` for pictures and recordings: every file a step names exists and is what it
says, within the size a cheap phone on a weak signal can take; no two steps share a picture by
mistake; every recording is of a part that exists (a misspelt name would never be heard)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bot.content.schema import Course
from bot.media import audio
from bot.media.audio import RECORDING_EXTENSIONS
from bot.media.keys import all_parts

IMAGE_MAX_BYTES = 1024 * 1024        # 1 MB
AUDIO_MAX_BYTES = 2 * 1024 * 1024    # 2 MB
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG"}


def check_images(c, path: Path, lang_dir: Path, course: Course, used: dict[str, str]) -> None:
    """The pictures of one course file; `used` maps a picture to the step that has it already."""
    for i, step in enumerate(course.steps):
        if step.image is None:
            continue
        where = ("steps", i, "image")
        file = lang_dir / "images" / step.image
        owner = f"{course.id}/{step.id}"
        if step.image in used:
            c.add(path, where, f"picture {step.image} is already the picture of step {used[step.image]}")
        used.setdefault(step.image, owner)
        if not file.is_file():
            c.add(path, where, f"picture {step.image} not found in {lang_dir.name}/images/")
            continue
        size = file.stat().st_size
        if size > IMAGE_MAX_BYTES:
            c.add(path, where, f"picture {step.image} is {size:,} bytes; at most {IMAGE_MAX_BYTES:,} (1 MB)")
        expected = IMAGE_FORMATS[step.image.rsplit(".", 1)[1]]
        try:
            with Image.open(file) as picture:
                found = picture.format
                picture.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            c.add(path, where, f"picture {step.image} is not a PNG or JPEG image that can be read")
            continue
        if found != expected:
            c.add(path, where, f"picture {step.image} is a {found} file, not {expected} as its name says")


def check_unused_images(c, lang_dir: Path, used: dict[str, str]) -> None:
    folder = lang_dir / "images"
    if folder.is_dir():
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.name not in used:
                c.add(file, None, "no step shows this picture (a step names it with image:)")


def check_recordings(c, lang_dir: Path, pack) -> None:
    """knowledge/<lang>/audio/<key>.<ext>: `pack` is the content the recordings are of (the
    language's own, or the Vietnamese one for a language heard but not read)."""
    folder = lang_dir / "audio"
    if not folder.is_dir():
        return
    keys = {part.key for part in all_parts(pack)} if pack is not None else set()
    seen: dict[str, Path] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = file.relative_to(folder).as_posix()
        key, _, extension = relative.rpartition(".")
        if extension.lower() not in RECORDING_EXTENSIONS:
            c.add(file, None, f"not a recording: use one of .{', .'.join(RECORDING_EXTENSIONS)}")
            continue
        if key not in keys:
            c.add(file, None, f"no lesson part {key!r} to be heard: name it <course>/<step id>, "
                              "<course>/quiz/<question id> or faq/<entry id>")
            continue
        if key in seen:
            c.add(file, None, f"a second recording of {key} (the other is {seen[key].name})")
            continue
        seen[key] = file
        size = file.stat().st_size
        if size > AUDIO_MAX_BYTES:
            c.add(file, None, f"recording is {size:,} bytes; at most {AUDIO_MAX_BYTES:,} (2 MB)")
            continue
        try:
            audio.probe(file.read_bytes())
        except audio.AudioError as exc:
            c.add(file, None, f"recording cannot be played: {exc}")
