"""knowledge/: the shipped content is valid, and broken content is reported by file and line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import REPO_ROOT
from bot.content import ContentError, load_knowledge
from bot.content.schema import STEP_MAX_CHARS

KNOWLEDGE = REPO_ROOT / "knowledge"
VNEID = "vi/courses/vneid.yaml"


# ---- the shipped content --------------------------------------------------------------------

def test_shipped_knowledge_loads(knowledge):
    assert "vi" in knowledge.languages
    pack = knowledge.pack("vi")
    assert "vneid" in pack.courses
    assert knowledge.pack(None) is pack and knowledge.pack("xx") is pack  # falls back to Vietnamese
    assert len(knowledge.villages) >= 1
    assert len({v.id for v in knowledge.villages}) == len(knowledge.villages)
    assert pack.profile.groups and pack.profile.age_bands
    assert pack.assistant.in_person_helpers


def test_every_course_fits_a_phone(knowledge):
    for pack in knowledge.languages.values():
        for course in pack.ordered_courses:
            assert 6 <= len(course.steps) <= 12, course.id
            for step in course.steps:
                assert 0 < len(step.text) <= STEP_MAX_CHARS == 700, (course.id, step.id)
                assert step.title.strip()
            questions = course.quiz.questions
            assert len(questions) >= 6, course.id
            for q in questions:
                assert q.explain.strip(), (course.id, q.id)
                assert 2 <= len(q.options) <= 4
                assert 1 <= q.answer <= len(q.options), (course.id, q.id)
                assert len(set(q.options)) == len(q.options), (course.id, q.id)
            assert len({s.id for s in course.steps}) == len(course.steps)
            assert len({q.id for q in questions}) == len(questions)
            assert 50 <= course.quiz.pass_percent <= 100


def test_every_course_ends_with_in_person_help(knowledge):
    for pack in knowledge.languages.values():
        helpers = pack.assistant.in_person_helpers
        for course in pack.ordered_courses:
            last = course.steps[-1].text
            assert any(helper in last for helper in helpers), course.id


def test_vneid_course_shape(knowledge):
    course = knowledge.pack("vi").courses["vneid"]
    assert len(course.steps) == 11
    assert course.step_number("hoi-ai") == 10 and course.step_number("khong-co") is None
    assert all(s.sources for s in course.steps) and all(q.sources for q in course.quiz.questions)


# ---- broken content ----------------------------------------------------------------------------

@pytest.fixture
def broken(tmp_path):
    """A copy of knowledge/ to break; `edit` replaces text once and returns the 1-based line."""
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, root)

    class Broken:
        path = root

        @staticmethod
        def edit(relative: str, old: str, new: str) -> int:
            file = root / relative
            text = file.read_text(encoding="utf-8")
            assert text.count(old) == 1, f"{old!r} must occur once in {relative}"
            line = text[:text.index(old)].count("\n") + 1
            file.write_text(text.replace(old, new), encoding="utf-8")
            return line

        @staticmethod
        def line_of(relative: str, needle: str) -> int:
            text = (root / relative).read_text(encoding="utf-8")
            assert text.count(needle) == 1, needle
            return text[:text.index(needle)].count("\n") + 1

        @staticmethod
        def problems() -> list[str]:
            with pytest.raises(ContentError) as info:
                load_knowledge(root)
            assert info.value.problems
            assert str(info.value) == "\n".join(info.value.problems)
            return info.value.problems

    return Broken


def located(problems: list[str], relative: str, line: int, *words: str) -> str:
    where = f"knowledge/{relative}:{line}:"
    hits = [p for p in problems if p.startswith(where) and all(w in p for w in words)]
    assert hits, f"expected a problem at {where} mentioning {words}, got {problems}"
    return hits[0]


def test_yaml_syntax_error(broken):
    line = broken.edit(VNEID, "order: 1\n", "order: 1: 2\n")
    problems = broken.problems()
    located(problems, VNEID, line, "not valid YAML")


def test_step_text_too_long(broken):
    line = broken.line_of(VNEID, "  - id: dang-ky-muc-1") + 2
    assert broken.edit(VNEID, "      Bạn cần thẻ căn cước gắn chip",
                       "      " + "x" * 690 + "\n      Bạn cần thẻ căn cước gắn chip") == line + 1
    problems = broken.problems()
    located(problems, VNEID, line, "steps.2.text", "700")


def test_answer_beyond_the_options(broken):
    # q2 has three options; the answer line is what the editor has to fix.
    start = broken.line_of(VNEID, "    - id: q2\n")
    line = broken.edit(VNEID, "      answer: 2\n      explain: \"Chỉ cài",
                       "      answer: 5\n      explain: \"Chỉ cài")
    assert line > start
    problems = broken.problems()
    located(problems, VNEID, line, "answer 5", "3 options")


def test_duplicate_step_id(broken):
    line = broken.edit(VNEID, "  - id: passcode\n", "  - id: kich-hoat\n")
    problems = broken.problems()
    located(problems, VNEID, line, "duplicate step id", "kich-hoat")


def test_unknown_audience(broken):
    line = broken.edit(VNEID, "audiences: [cong_dan, hoc_sinh", "audiences: [cong_dan, nong_dan")
    problems = broken.problems()
    located(problems, VNEID, line, "audiences.1")


def test_missing_villages_file(broken):
    (broken.path / "villages.yaml").unlink()
    problems = broken.problems()
    assert any(p.startswith("knowledge/villages.yaml") and "missing" in p for p in problems), problems


def test_last_step_without_in_person_help(broken):
    text_line = broken.line_of(VNEID, "  - id: hoi-ai\n") + 2
    course = (broken.path / VNEID).read_text(encoding="utf-8")
    start = course.index("  - id: hoi-ai\n")
    end = course.index("    sources: [S59, S4, S5]")
    replaced = ('  - id: hoi-ai\n    title: "Cần giúp thì hỏi ai?"\n    text: |\n'
                '      Bạn hỏi người thân trong nhà nhé.\n')
    (broken.path / VNEID).write_text(course[:start] + replaced + course[end:], encoding="utf-8")
    problems = broken.problems()
    problem = located(problems, VNEID, text_line, "in person")
    assert "Công an xã" in problem


def test_unknown_key(broken):
    line = broken.edit(VNEID, "order: 1\n", "order: 1\ncolour: red\n") + 1
    problems = broken.problems()
    located(problems, VNEID, line, "colour")


def test_unknown_key_in_a_step(broken):
    line = broken.edit(VNEID, "    sources: [S8]\n", "    source: [S8]\n")
    problems = broken.problems()
    located(problems, VNEID, line, "steps.6.source")


def test_every_problem_is_reported_at_once(broken):
    yaml_line = broken.edit("vi/profile.yaml", "groups:\n", "groups: [\n")
    key_line = broken.edit(VNEID, "order: 1\n", "order: 1\ncolour: red\n") + 1
    problems = broken.problems()
    assert any(p.startswith("knowledge/vi/profile.yaml:") for p in problems), problems
    assert yaml_line > 0
    located(problems, VNEID, key_line, "colour")


# ---- the CLI -------------------------------------------------------------------------------------

def run_check(knowledge_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOCVUSO_KNOWLEDGE_DIR=str(knowledge_dir), HOCVUSO_LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, "-m", "bot.cli", "content", "check"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_content_check_ok():
    result = run_check(KNOWLEDGE)
    assert result.returncode == 0, result.stderr
    assert "ok  vi/vneid: 11 steps, 10 quiz questions, updated 2026-03-15" in result.stdout
    assert "villages" in result.stdout


def test_cli_content_check_broken(broken):
    line = broken.line_of(VNEID, "  - id: dang-ky-muc-1") + 2
    broken.edit(VNEID, "      Bạn cần thẻ căn cước gắn chip",
                "      " + "x" * 690 + "\n      Bạn cần thẻ căn cước gắn chip")
    result = run_check(broken.path)
    assert result.returncode == 2
    assert f"knowledge/{VNEID}:{line}:" in result.stderr
    assert "ok  " not in result.stdout
