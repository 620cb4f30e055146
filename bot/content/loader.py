"""Read knowledge/ and check it. Every problem names the file and the line."""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.schema import Course, AssistantInfo, Knowledge, LanguagePack, Profile, Villages
from bot.content.yamlines import line_of, load_with_lines

M = TypeVar("M", bound=BaseModel)


class ContentError(Exception):
    """One or more problems in knowledge/, each as 'file:line: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[str] = []

    def where(self, path: Path, line: int | None) -> str:
        try:
            shown = path.relative_to(self.root.parent)
        except ValueError:
            shown = path
        return f"{shown}:{line}" if line else str(shown)

    def add(self, path: Path, line: int | None, message: str) -> None:
        self.problems.append(f"{self.where(path, line)}: {message}")

    def parse(self, path: Path, model: type[M]) -> M | None:
        if not path.is_file():
            self.add(path, None, "file is missing")
            return None
        try:
            data, lines = load_with_lines(path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.add(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")
            return None
        except UnicodeDecodeError:
            self.add(path, None, "not UTF-8 text")
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                field = ".".join(str(p) for p in loc) or "(top level)"
                self.add(path, line_of(lines, loc), f"{field}: {err['msg']}")
            return None


def load_knowledge(root: Path) -> Knowledge:
    """Load and validate all content under root; raise ContentError listing every problem."""
    root = Path(root)
    c = _Collector(root)
    if not root.is_dir():
        raise ContentError([f"{root}: knowledge folder not found"])
    villages = c.parse(root / "villages.yaml", Villages)
    packs: dict[str, LanguagePack] = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and (p / "courses").is_dir()):
        pack = _load_language(c, lang_dir)
        if pack:
            packs[pack.code] = pack
    if villages:
        seen: set[str] = set()
        for i, village in enumerate(villages.villages):
            if village.id in seen:
                _, lines = load_with_lines(root / "villages.yaml")
                c.add(root / "villages.yaml", line_of(lines, ("villages", i, "id")),
                      f"duplicate village id {village.id!r}")
            seen.add(village.id)
    if "vi" not in packs and not c.problems:
        c.add(root / "vi", None, "the Vietnamese content folder (vi/courses) is missing")
    if c.problems:
        raise ContentError(c.problems)
    return Knowledge(villages=villages.villages, languages=packs)


def _load_language(c: _Collector, lang_dir: Path) -> LanguagePack | None:
    profile = c.parse(lang_dir / "profile.yaml", Profile)
    assistant = c.parse(lang_dir / "assistant.yaml", AssistantInfo)
    courses: dict[str, Course] = {}
    files = sorted((lang_dir / "courses").glob("*.yaml"))
    if not files:
        c.add(lang_dir / "courses", None, "no course files (*.yaml)")
    for path in files:
        course = c.parse(path, Course)
        if course is None:
            continue
        problems = course.duplicate_ids()
        if problems:
            _, lines = load_with_lines(path)
            for loc, message in problems:
                c.add(path, line_of(lines, loc), message)
            continue
        if course.id in courses:
            c.add(path, None, f"course id {course.id!r} is used by another file too")
            continue
        if assistant and not any(h in course.steps[-1].text for h in assistant.in_person_helpers):
            _, lines = load_with_lines(path)
            c.add(path, line_of(lines, ("steps", len(course.steps) - 1, "text")),
                  "the last step must say where to get help in person "
                  f"(one of: {', '.join(assistant.in_person_helpers)})")
        courses[course.id] = course
    if profile is None or assistant is None:
        return None
    return LanguagePack(code=lang_dir.name, courses=courses, profile=profile, assistant=assistant)
