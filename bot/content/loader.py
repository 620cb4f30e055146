"""Read knowledge/ and check it. Every problem names the file and the line."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from rapidfuzz import fuzz

from bot.content.schema import (
    AssistantInfo,
    Course,
    FaqEntry,
    FaqFile,
    Glossary,
    Events,
    Knowledge,
    Plan,
    Privacy,
    ReportLabels,
    LanguagePack,
    Languages,
    Profile,
    Shorthand,
    Smalltalk,
    Sources,
    Spelling,
    Stopwords,
    Villages,
)
from bot.content import media_check
from bot.content.yamlines import Path_, line_of, load_with_lines, text_line
from bot.text import fold

M = TypeVar("M", bound=BaseModel)

# Canonical FAQ questions this similar (rapidfuzz token_sort_ratio on folded text) are one question.
NEAR_DUPLICATE_SCORE = 92


class ContentError(Exception):
    """One or more problems in knowledge/, each as 'file:line: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Collector:
    def __init__(self, root: Path):
        self.root = root
        self.problems: list[str] = []
        self.lines: dict[Path, dict[Path_, int]] = {}

    def add(self, path: Path, loc: Path_ | None, message: str, line: int | None = None) -> None:
        if line is None and loc is not None:
            line = line_of(self.lines.get(path, {}), loc)
        shown = self._shown(path)
        self.problems.append(f"{shown}:{line}: {message}" if line else f"{shown}: {message}")

    def parse(self, path: Path, model: type[M], required: bool = True) -> M | None:
        if not path.is_file():
            if required:
                self.add(path, None, "file is missing")
            return None
        try:
            data, self.lines[path] = load_with_lines(path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            self.problems.append(f"{self._shown(path)}{where}: not valid YAML: {getattr(exc, 'problem', exc)}")
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
                self.add(path, loc, f"{field}: {err['msg']}")
            return None

    def _shown(self, path: Path) -> Path:
        try:
            return path.relative_to(self.root.parent)
        except ValueError:
            return path


def load_knowledge(root: Path) -> Knowledge:
    """Load and validate all content under root; raise ContentError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise ContentError([f"{root}: knowledge folder not found"])
    c = _Collector(root)
    villages = c.parse(root / "villages.yaml", Villages)
    sources = c.parse(root / "sources.yaml", Sources)
    spelling = c.parse(root / "spelling.yaml", Spelling) or Spelling()
    languages = c.parse(root / "languages.yaml", Languages)
    plan = c.parse(root / "targets.yaml", Plan)
    events = c.parse(root / "events.yaml", Events, required=False) or Events()
    if villages:
        _check_unique(c, root / "villages.yaml", ("villages",), [v.id for v in villages.villages], "village")
    packs: dict[str, LanguagePack] = {}
    # Every folder under knowledge/ is a language (vi/, later tai/, hmn/): a folder missing its
    # assistant.yaml is reported as that file missing, not as a missing language.
    audio_only: list[Path] = []
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _heard_not_read(lang_dir):
            audio_only.append(lang_dir)
            continue
        pack = _load_language(c, lang_dir, sources.sources if sources else {}, spelling)
        if pack:
            packs[pack.code] = pack
    for lang_dir in audio_only:
        media_check.check_recordings(c, lang_dir, packs.get("vi"))
    if "vi" not in packs and not c.problems:
        c.add(root / "vi", None, "the Vietnamese content folder (vi/) is missing")
    if plan and "vi" in packs:
        for i, course_id in enumerate(plan.core_courses):
            if course_id not in packs["vi"].courses:
                c.add(root / "targets.yaml", ("core_courses", i), f"no course {course_id!r} in vi/courses")
    if c.problems:
        raise ContentError(c.problems)
    return Knowledge(villages=villages.villages, plan=plan, events=events, languages=packs, sources=sources.sources,
                     language_names=languages.languages, root=root,
                     audio_languages=[lang_dir.name for lang_dir in audio_only])


def _heard_not_read(lang_dir: Path) -> bool:
    """A language folder with recordings only (Thái, H'Mông): lessons heard in it, read in Vietnamese."""
    names = {p.name for p in lang_dir.iterdir() if not p.name.startswith(".")}
    return names == {"audio"}


def _load_language(c: _Collector, lang_dir: Path, sources: dict[str, str], spelling: Spelling) -> LanguagePack | None:
    profile = c.parse(lang_dir / "profile.yaml", Profile)
    assistant = c.parse(lang_dir / "assistant.yaml", AssistantInfo)
    glossary = c.parse(lang_dir / "glossary.yaml", Glossary, required=False) or Glossary()
    shorthand = c.parse(lang_dir / "shorthand.yaml", Shorthand, required=False)
    stopwords = c.parse(lang_dir / "stopwords.yaml", Stopwords, required=False)
    smalltalk = c.parse(lang_dir / "smalltalk.yaml", Smalltalk, required=False) or Smalltalk()
    privacy = c.parse(lang_dir / "privacy.yaml", Privacy, required=False) or Privacy()
    report = c.parse(lang_dir / "report.yaml", ReportLabels, required=False)
    courses: dict[str, Course] = {}
    pictures: dict[str, str] = {}
    course_files = sorted((lang_dir / "courses").glob("*.yaml"))
    if not course_files:
        c.add(lang_dir / "courses", None, "no course files (*.yaml)")
    for path in course_files:
        course = c.parse(path, Course)
        if course is None:
            continue
        if course.id in courses:
            c.add(path, ("id",), f"course id {course.id!r} is used by another file too")
            continue
        courses[course.id] = course
        _check_unique(c, path, ("steps",), [s.id for s in course.steps], "step")
        _check_unique(c, path, ("quiz", "questions"), [q.id for q in course.quiz.questions], "question")
        if assistant and not any(h in course.steps[-1].text for h in assistant.in_person_helpers):
            c.add(path, ("steps", len(course.steps) - 1, "text"),
                  "the last step must say where to get help in person "
                  f"(one of: {', '.join(assistant.in_person_helpers)})")
        _check_sources(c, path, _course_sources(course), sources)
        _check_spelling(c, path, _course_texts(course), spelling)
        media_check.check_images(c, path, lang_dir, course, pictures)
    media_check.check_unused_images(c, lang_dir, pictures)

    faq: list[FaqEntry] = []
    faq_origin: list[tuple[Path, int]] = []
    for path in sorted((lang_dir / "faq").glob("*.yaml")):
        parsed = c.parse(path, FaqFile)
        if parsed is None:
            continue
        for i, entry in enumerate(parsed.entries):
            faq.append(entry)
            faq_origin.append((path, i))
            where = ("entries", i)
            course = courses.get(entry.course_id)
            if course is None or course.step_number(entry.step_id) is None:
                c.add(path, where + ("see",), f"link {entry.see!r} does not lead to a course step")
            _check_sources(c, path, [(where + ("sources",), entry.sources)], sources)
            _check_spelling(c, path, [(where + ("question",), entry.question),
                                      (where + ("answer",), entry.answer)], spelling)
    _check_faq_ids_and_duplicates(c, faq, faq_origin)

    if profile is None or assistant is None:
        return None
    pack = LanguagePack(code=lang_dir.name, courses=courses, profile=profile, assistant=assistant,
                        faq=faq, glossary=glossary, smalltalk=smalltalk, privacy=privacy,
                        report_labels=report.labels if report else {},
                        shorthand=shorthand.root if shorthand else {},
                        stopwords=frozenset(stopwords.words) if stopwords else frozenset(),
                        particles=frozenset(stopwords.particles) if stopwords else frozenset(),
                        closings=frozenset(stopwords.closings) if stopwords else frozenset(),
                        code_words=frozenset(stopwords.code_words) if stopwords else frozenset())
    pack.notes = _glossary_notes(c, lang_dir / "glossary.yaml", pack)
    media_check.check_recordings(c, lang_dir, pack)
    return pack


def _course_sources(course: Course) -> list[tuple[Path_, list[str]]]:
    found = [(("sources",), course.sources)]
    found += [(("steps", i, "sources"), s.sources) for i, s in enumerate(course.steps)]
    found += [(("quiz", "questions", i, "sources"), q.sources) for i, q in enumerate(course.quiz.questions)]
    return found


def _course_texts(course: Course) -> list[tuple[Path_, str]]:
    texts = [(("title",), course.title), (("intro",), course.intro)]
    for i, step in enumerate(course.steps):
        texts += [(("steps", i, "title"), step.title), (("steps", i, "text"), step.text)]
    for i, q in enumerate(course.quiz.questions):
        texts += [(("quiz", "questions", i, "question"), q.question), (("quiz", "questions", i, "explain"), q.explain)]
        texts += [(("quiz", "questions", i, "options", j), o) for j, o in enumerate(q.options)]
    return texts


def _check_sources(c: _Collector, path: Path, lists: list[tuple[Path_, list[str]]], known: dict) -> None:
    for loc, ids in lists:
        for sid in ids:
            if sid not in known:
                c.add(path, loc, f"unknown source id {sid!r} (see knowledge/sources.yaml)")


def _check_spelling(c: _Collector, path: Path, texts: list[tuple[Path_, str]], spelling: Spelling) -> None:
    for rule in spelling.terms:
        pattern = re.compile(rule.pattern, re.IGNORECASE)
        for loc, text in texts:
            for match in pattern.finditer(text):
                if match.group(0) != rule.canonical:
                    line = text_line(c.lines.get(path, {}), loc, text, match.start())
                    c.add(path, loc, f"write {rule.canonical!r}, not {match.group(0)!r}", line)


def _check_unique(c: _Collector, path: Path, where: Path_, ids: list[str], kind: str) -> None:
    seen: set[str] = set()
    for i, item_id in enumerate(ids):
        if item_id in seen:
            c.add(path, where + (i, "id"), f"duplicate {kind} id {item_id!r}")
        seen.add(item_id)


def _check_faq_ids_and_duplicates(c: _Collector, faq: list[FaqEntry], origin: list[tuple[Path, int]]) -> None:
    seen: dict[str, int] = {}
    for n, entry in enumerate(faq):
        path, i = origin[n]
        if entry.id in seen:
            c.add(path, ("entries", i, "id"), f"duplicate FAQ id {entry.id!r}")
        seen.setdefault(entry.id, n)
    folded = [fold(e.question) for e in faq]
    for b in range(1, len(faq)):
        for a in range(b):
            if fuzz.token_sort_ratio(folded[a], folded[b], score_cutoff=NEAR_DUPLICATE_SCORE):
                path, i = origin[b]
                c.add(path, ("entries", i, "question"),
                      f"FAQ question is nearly the same as {faq[a].id!r}: merge them or make them distinct")


def _glossary_notes(c: _Collector, path: Path, pack: LanguagePack) -> dict[tuple[str, int], list[str]]:
    """Explain each glossary term once per course, under the step where it first appears."""
    notes: dict[tuple[str, int], list[str]] = {}
    for n, term in enumerate(pack.glossary.terms):
        try:
            pattern = re.compile(term.pattern)
        except re.error as exc:
            c.add(path, ("terms", n, "pattern"), f"not a valid pattern: {exc}")
            continue
        for course in pack.courses.values():
            for i, step in enumerate(course.steps):
                head = course.intro if i == 0 else ""
                if pattern.search(f"{head}\n{step.title}\n{step.text}"):
                    notes.setdefault((course.id, i), []).append(f"ℹ️ {term.explain}")
                    break
    return notes
