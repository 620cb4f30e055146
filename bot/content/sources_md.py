"""knowledge/SOURCES.md, generated from the `sources:` lists in the content.

The YAML files are the single place where a step, quiz question or FAQ answer names its
sources; this page lays them out for reviewers. `hocvuso content sources` rewrites it and
a test checks it is up to date.
"""
from __future__ import annotations

from bot.content.schema import Knowledge

HEADER = """# Nguồn của nội dung

Mọi dữ kiện trong bài học và câu trả lời FAQ đều lấy từ bảng dữ kiện của nhóm
(digital-skills-facts.md) hoặc từ kế hoạch của xã (KH-XA). Dữ kiện bị đánh dấu [YẾU]
hoặc [CXN] trong bảng dữ kiện không bao giờ được nói như điều chắc chắn; khi hết dữ kiện,
câu trả lời chỉ bà con đến người giúp trực tiếp.

Dấu "—" nghĩa là mục đó chỉ đưa lời khuyên chung hoặc chỉ bà con đến người giúp,
không nêu dữ kiện nào cần nguồn.

Trang này được tạo tự động từ các mục `sources:` trong knowledge/ bằng lệnh
`hocvuso content sources`. Đừng sửa tay: hãy sửa `sources:` trong tệp YAML.
"""


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "—"


def render_sources(knowledge: Knowledge) -> str:
    out = [HEADER]
    used: set[str] = set()
    for code, pack in sorted(knowledge.languages.items()):
        for course in pack.ordered_courses:
            out.append(f"\n## Khoá học «{course.title}» ({code}/courses/{course.id}.yaml)\n")
            out.append("| mục | nguồn |\n|---|---|")
            out.append(f"| cả khoá | {_ids(course.sources)} |")
            for step in course.steps:
                out.append(f"| bước `{step.id}` | {_ids(step.sources)} |")
            for question in course.quiz.questions:
                out.append(f"| câu hỏi `{question.id}` | {_ids(question.sources)} |")
            used |= set(course.sources)
            used |= {s for step in course.steps for s in step.sources}
            used |= {s for q in course.quiz.questions for s in q.sources}
        if pack.faq:
            out.append(f"\n## FAQ ({code}/faq/, {len(pack.faq)} câu)\n")
            out.append("| câu hỏi | xem thêm | nguồn |\n|---|---|---|")
            for entry in pack.faq:
                out.append(f"| `{entry.id}` | {entry.see} | {_ids(entry.sources)} |")
                used |= set(entry.sources)
    out.append("\n## Danh sách nguồn\n")
    for sid, description in knowledge.sources.items():
        if sid in used:
            out.append(f"- {sid}: {description}")
    return "\n".join(out) + "\n"
