"""knowledge/SOURCES.md, generated from the `sources:` lists in the content.

The YAML files are the single place where a step, quiz question or FAQ answer names its
sources; this page lays them out for reviewers. `hocvuso content sources` rewrites it and
a test checks it is up to date. Its wording comes from the Vietnamese catalog.
"""
from __future__ import annotations

from bot.content.schema import Knowledge
from bot.i18n import translator


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "—"


def render_sources(knowledge: Knowledge) -> str:
    _ = translator("vi")
    out = [_("# Sources of the content"), "",
           _("Every fact in the lessons and FAQ answers comes from the team's fact sheet "
             "(digital-skills-facts.md) or from the commune's plan (KH-XA). Facts the fact sheet marks "
             "[YẾU] or [CXN] are never stated as certain; where the facts run out, the answer sends "
             "residents to a person who can help."), "",
           _("\"—\" means the entry gives general advice only, or sends residents to a helper, and "
             "states no fact that needs a source."), "",
           _("This page is generated from the `sources:` lists in knowledge/ by "
             "`hocvuso content sources`. Do not edit it by hand: edit `sources:` in the YAML files.")]
    used: set[str] = set()
    for code, pack in sorted(knowledge.languages.items()):
        for course in pack.ordered_courses:
            out.append("\n" + _("## Course «{title}» ({file})").format(
                title=course.title, file=f"{code}/courses/{course.id}.yaml") + "\n")
            out.append(_("| item | sources |") + "\n|---|---|")
            out.append(_("| whole course | {ids} |").format(ids=_ids(course.sources)))
            out += [_("| step `{id}` | {ids} |").format(id=s.id, ids=_ids(s.sources)) for s in course.steps]
            out += [_("| question `{id}` | {ids} |").format(id=q.id, ids=_ids(q.sources))
                    for q in course.quiz.questions]
            used |= set(course.sources)
            used |= {s for step in course.steps for s in step.sources}
            used |= {s for q in course.quiz.questions for s in q.sources}
        if pack.faq:
            out.append("\n" + _("## FAQ ({folder}, {count} entries)").format(
                folder=f"{code}/faq/", count=len(pack.faq)) + "\n")
            out.append(_("| question | more in | sources |") + "\n|---|---|---|")
            for entry in pack.faq:
                out.append(f"| `{entry.id}` | {entry.see} | {_ids(entry.sources)} |")
                used |= set(entry.sources)
    out.append("\n" + _("## List of sources") + "\n")
    out += [f"- {sid}: {description}" for sid, description in knowledge.sources.items() if sid in used]
    return "\n".join(out) + "\n"
