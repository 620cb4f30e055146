"""Personal data (Luật 91/2025/QH15): the unanswered-question log keeps no personal data and
nothing from residents who have not consented, it is pruned after its retention limit, and
forgetting a resident leaves no trace in any table."""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.config import REPO_ROOT
from bot.content import ContentError, load_knowledge
from bot.models import (AuditEntry, Base, Completion, Household, QuizAnswer, Resident, UnansweredQuestion,
                        Village)
from bot.qa import QaIndex
from bot.text import fold
from bot.web import create_app
from tests.core_helpers import Chat, count
from tests.http_helpers import serving

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN = "admin-token-for-the-privacy-tests-0123456789"
NOT_UNDERSTOOD = "chưa hiểu"


# ---- redaction, on what residents really type --------------------------------------------------

@pytest.fixture(scope="module")
def redact():
    """for_log with the shipped cues and villages, as the bot uses it for a resident named Xuyến."""
    from bot.handlers.ask import place_names

    knowledge = load_knowledge(REPO_ROOT / "knowledge")
    pack = knowledge.pack("vi")
    index = QaIndex(pack)
    privacy = pack.privacy
    rules = index.normalizer.log_rules(privacy.name_cues, privacy.secret_cues, privacy.value_words,
                                       privacy.name_ends, index.vocabulary)
    names = [*place_names(knowledge.villages), "Xuyến"]
    return lambda text: index.normalizer.for_log(text, rules, names)


# (typed, what is kept, what must not be kept: as typed and folded)
MESSAGES = [
    # A known word after a secret cue is the topic, not the secret.
    ("quen mat khau vneid a", "quen mat khau vneid a", []),
    ("quên mk VNeID rồi ạ", "quen mat khau vneid roi a", []),
    ("mat khau la gi vay a", "mat khau la gi vay a", []),
    ("cho e hoi tk vneid bi khoa thi lam sao ạ", "cho em hoi tai khoan vneid bi khoa thi lam sao a", []),
    # The secret goes, with or without a digit, with "là", ":" or nothing before it.
    ("mat khau cua toi la hoaban99 a", "mat khau cua toi la # a", ["hoaban"]),
    ("mk cua e la hoa ban xinh ạ", "mat khau cua em la #", ["hoa ban"]),
    ("pass vneid: Hoaban@2024 ạ", "pas vneid #", ["hoaban"]),
    ("matkhau hoabanxinh bi sai ạ", "mat khau # bi sai a", ["hoabanxinh"]),
    ("passwork cua e la minhlv ạ", "passwork cua em la #", ["minhlv"]),
    ("ten dang nhap: minhlv, mk: abc ạ", "ten dang nhap # mat khau # a", ["minhlv", "abc"]),
    # Names go whatever their words are; a word never part of a name ends them.
    ("ten toi la Lò Văn Minh, o Tong Lanh, hoi cach dk vneid ạ", "ten toi la # o # hoi cach dang ky vneid a",
     ["Lò Văn Minh", "lo van minh", "tong lanh"]),
    ("e ten la Quang Thi Hoa e muon hoi chuyen khoan ạ", "em ten la # em muon hoi chuyen khoan a",
     ["quang thi hoa"]),
    ("tênn tôi là Sùng A Páo ạ", "ten toi la #", ["sung a pao"]),
    ("ho va ten: Lò Thị Ban ạ", "ho va ten #", ["lo thi ban"]),
    ("chào ad, Xuyến đây, cho hỏi cách cài vneid ạ", "chao admin # day cho hoi cach cai vneid a", ["xuyen"]),
    # Numbers, emails, links.
    ("sdt cua e la 0912 345 678 bi khoa sim ạ", "so dien thoai cua em la # bi khoa sim a", ["0912", "345"]),
    ("email e la minh.lv@gmail.com ko nhan dc ma ạ", "email em la # khong nhan duoc ma a", ["minh", "gmail"]),
    ("cccd 012345678901 bi mat thi lam lai ntn ạ", "can cuoc # bi mat thi lam lai nhu the nao a", ["0123"]),
    ("vao link dichvucong.gov.vn/ho-so/lo-minh bi loi ạ", "vao link # bi loi a", ["minh"]),
    ("otp la 123456 co dua cho ai ko a", "otp la # co dua cho ai khong a", ["123456"]),
    ("dia chi nha e la ban Na Sy xa Thuan Chau ạ", "dia chi nha em la # thuan chau a", ["na sy"]),
]


def test_redaction_keeps_the_question_and_cuts_the_person(redact):
    wrong = [(typed, redact(typed), kept) for typed, kept, _gone in MESSAGES if redact(typed) != kept]
    leaked = [(typed, secret) for typed, _kept, gone in MESSAGES for secret in gone if fold(secret) in redact(typed)]
    assert wrong == [] and leaked == []


# What is left of these is only common words at most ("em la # o # a"): nothing an editor could act on.
NOTHING_LEFT = ["😭😭😭", "!!! ???", "👍", "0912345678", "minh.lv@gmail.com", "https://facebook.com/lo.minh",
                "0912 345 678 ạ??", "em la nguoi dan toc Thai o Phong Ly ạ", "xem giup e facebook.com/lo.minh voi"]


def test_text_with_nothing_but_emoji_punctuation_or_personal_data_logs_nothing(redact):
    assert {typed: redact(typed) for typed in NOTHING_LEFT} == {typed: "" for typed in NOTHING_LEFT}


def test_a_broken_privacy_file_is_reported_by_file_and_line(tmp_path):
    root = tmp_path / "knowledge"
    shutil.copytree(REPO_ROOT / "knowledge", root)
    path = root / "vi" / "privacy.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("  - stk\n") == 1
    line = text[:text.index("  - stk\n")].count("\n") + 1
    path.write_text(text.replace("  - stk\n", "  - '!!!'\n"), encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_knowledge(root)
    assert any(p.startswith(f"knowledge/vi/privacy.yaml:{line}:") and "secret_cues" in p
               and "at least one word" in p for p in info.value.problems), info.value.problems


# ---- what the bot logs, and from whom -----------------------------------------------------------

def asks_personal_question(me: Chat) -> None:
    [reply] = me.text("chao ad, e ten la Quang Thi Xuyen, mat khau vneid cua e la hoaban99, "
                      "con lon nha e bi om bo an thi lam sao ạ")
    assert NOT_UNDERSTOOD in reply.text


def test_nothing_is_logged_from_residents_who_have_not_consented(assistant, sessions):
    never_asked = Chat(assistant, "privacy-never")
    refused = Chat(assistant, "privacy-refused")
    refused.decline()
    deleted = Chat(assistant, "privacy-deleted")
    deleted.consent_and_skip_profile()
    deleted.cmd("xoadulieu")
    deleted.tap("x:y")
    for me in (never_asked, refused, deleted):
        asks_personal_question(me)   # the honest reply all the same
        [reply] = me.text("con lon nha toi bi om bo an")
        assert NOT_UNDERSTOOD in reply.text
    assert count(sessions, UnansweredQuestion) == 0


def test_a_consenting_residents_question_is_logged_without_personal_data(assistant, sessions):
    me = Chat(assistant, "privacy-consent", first_name="Xuyến")
    me.consent_and_skip_profile()
    asks_personal_question(me)
    [reply] = me.text("Xuyến hỏi: con lợn bị ốm bỏ ăn ạ")
    assert NOT_UNDERSTOOD in reply.text
    with sessions() as session:
        logged = sorted(session.scalars(select(UnansweredQuestion.text)))
    assert logged == ["# hoi con lon bi om bo an a",   # her own name goes too
                      "chao admin em ten la # mat khau vneid cua em la # con lon nha em bi om bo an thi lam sao a"]


def test_emoji_only_text_stores_no_row(assistant, sessions):
    me = Chat(assistant, "privacy-emoji")
    me.consent_and_skip_profile()
    for typed in ("😭😭😭", "??? !!!", "0912345678", "minh.lv@gmail.com"):
        [reply] = me.text(typed)
        assert NOT_UNDERSTOOD in reply.text
    assert count(sessions, UnansweredQuestion) == 0


def test_a_village_added_by_an_official_is_cut_too(assistant, sessions):
    with sessions() as session:
        session.add(Village(id="ban-na-sy", name="Nà Sy", kind="bản", position=99))
        session.commit()
    me = Chat(assistant, "privacy-village")
    me.consent_and_skip_profile()
    me.text("nha e o Na Sy, con lon bi om bo an ạ")
    with sessions() as session:
        assert session.scalars(select(UnansweredQuestion.text)).all() == ["nha em o # con lon bi om bo an a"]


# ---- retention -----------------------------------------------------------------------------------

async def test_unanswered_questions_not_seen_for_180_days_are_pruned_every_night(sessions):
    from bot.scheduler import UNANSWERED_RETENTION, build_scheduler, prune_unanswered_questions

    assert UNANSWERED_RETENTION == timedelta(days=180)
    now = datetime.now(timezone.utc)
    # text → (first seen, last seen), days ago: what counts is when it was last asked.
    ages = {"old": (190, 181), "asked again lately": (400, 3), "recent": (179, 179)}
    with sessions() as session:
        for text, (first, last) in ages.items():
            session.add(UnansweredQuestion(text=text, count=2, first_seen=now - timedelta(days=first),
                                           last_seen=now - timedelta(days=last)))
        session.commit()
    assert prune_unanswered_questions(sessions, now) == 1
    assert sorted(texts(sessions)) == ["asked again lately", "recent"]
    # The nightly housekeeping job does it too.
    scheduler = build_scheduler(sessions, "Asia/Ho_Chi_Minh")
    with sessions() as session:
        session.add(UnansweredQuestion(text="old again", count=1, first_seen=now - timedelta(days=200),
                                       last_seen=now - timedelta(days=200)))
        session.commit()
    await scheduler.get_job("prune_processed_updates").func()
    assert sorted(texts(sessions)) == ["asked again lately", "recent"]


def texts(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(UnansweredQuestion.text)))


# ---- forgetting a resident -------------------------------------------------------------------------

@pytest.fixture
def api(settings_for, assistant):
    with serving(create_app(settings_for(HOCVUSO_ADMIN_TOKEN=ADMIN), assistant)) as client:
        client.headers.update({"Authorization": f"Bearer {ADMIN}"})
        yield client


CHAT_ID = "7012345678"
FIRST_NAME = "Quàng Thị Xuyến"
GIVEN_NAME = "Xuyến"   # "Quàng" and "Thị" alone are in ordinary words and village names
EMAIL = "xuyen.qt@gmail.com"
PASSWORD = "hoaban99"
TYPED_NAME = "Quang Thi Xuyen"


def refers_to_residents(column) -> bool:
    """A foreign key to residents, their own id, or a column named for a person: some hold a
    resident id with no foreign key (households.created_by)."""
    return (any(fk.column.table.name == Resident.__tablename__ for fk in column.foreign_keys)
            or (column.table.name == Resident.__tablename__ and column.primary_key)
            or "resident" in column.name or "ambassador" in column.name or column.name == "created_by")


def shown(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)


def rows(sessions):
    """(table, row) for every row of every table, tables added later included."""
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings().all():
                yield table, row


def points_at(table, row, resident_id: int) -> list[str]:
    return [column.name for column in table.columns
            if refers_to_residents(column) and row[column.name] in (resident_id, str(resident_id))]


def keys(sessions, resident_id: int | None = None) -> dict[str, set]:
    """The primary keys of every row (of those that point at the resident, if given), in the
    tables whose key is one column."""
    found: dict[str, set] = {}
    for table, row in rows(sessions):
        [*key] = table.primary_key.columns
        if len(key) == 1 and (resident_id is None or points_at(table, row, resident_id)):
            found.setdefault(table.name, set()).add(row[key[0].name])
    return found


def traces(sessions, resident_id: int, owned: dict[str, set]) -> list[str]:
    """Every place in the database that still points at the resident or at a row of theirs
    that is gone (a quiz attempt's answers), or holds what they typed. `owned`: their rows'
    keys, taken before."""
    existing = keys(sessions)
    needles = [CHAT_ID, FIRST_NAME, GIVEN_NAME, EMAIL, EMAIL.split("@")[0], PASSWORD, TYPED_NAME]
    needles += [fold(n) for n in needles]
    own_subject = re.compile(rf"\bresidents? {resident_id}\b")
    found = [f"{table.name}.{name} = {resident_id}" for table, row in rows(sessions)
             for name in points_at(table, row, resident_id)]
    for table, row in rows(sessions):
        for column in table.columns:
            value = row[column.name]
            if value is None:
                continue
            found += [f"{table.name}.{column.name} = {value}, their deleted row in {fk.column.table.name}"
                      for fk in column.foreign_keys if value in owned.get(fk.column.table.name, set())
                      - existing.get(fk.column.table.name, set())]
            text = shown(value).lower()
            found += [f"{table.name}.{column.name} holds {n!r}" for n in needles if n.lower() in text]
            if own_subject.search(text):
                found.append(f"{table.name}.{column.name} names resident {resident_id}")
    return found


def household_invite(replies) -> str:
    """The invite's code: without a bot username there is no link, only the code to send."""
    [code] = [b.code for r in replies for row in r.buttons for b in row if b.code]
    return code


def test_forgetting_leaves_no_trace_in_any_table(assistant, sessions, knowledge, api):
    starts = (datetime.now(TZ) + timedelta(days=30)).strftime("%Y-%m-%dT08:00:00")
    event = api.post("/api/v1/events", json={"title": "Lớp học VNeID", "starts_at": starts, "location": "Nhà văn hoá"})
    assert event.status_code == 201, event.text
    me = Chat(assistant, CHAT_ID, first_name=FIRST_NAME, platform="telegram")
    me.cmd("start")
    me.tap("c:y")
    me.tap("v:kv-tong-lanh")
    me.tap("g:nguoi-dan")
    me.tap("a:36-59")
    vneid = knowledge.pack("vi").courses["vneid"]
    me.walk_course(vneid)
    me.take_quiz(vneid)
    assert count(sessions, Completion, course_id="vneid") == 1
    me.cmd("giadinh")
    invite = household_invite(me.tap("gd:new"))
    me.cmd("sukien")
    me.tap(f"ev:{event.json()['id']}:1")
    [reply] = me.text(f"chao ad, e ten la {TYPED_NAME} o Tong Lanh, mat khau vneid cua e la {PASSWORD}, "
                      f"email {EMAIL}, con lon nha e bi om bo an thi lam sao ạ")
    assert NOT_UNDERSTOOD in reply.text
    # A relative joins the family, so the household outlives its creator.
    relative = Chat(assistant, "7012345679", first_name="Páo", platform="telegram")
    relative.consent_and_skip_profile()
    relative.text(invite)
    # A progress code of their own, and the relative's, which they typed and were asked to confirm.
    me.cmd("matiendo")
    [theirs] = re.findall(r"\d{3} \d{3} \d{3}", relative.cmd("matiendo")[0].text)[:1]
    assert any(b.data.startswith("mv:y:") for r in me.text(theirs) for row in r.buttons for b in row)
    with sessions() as session:
        resident_id = session.scalar(select(Resident.id).where(Resident.external_id == CHAT_ID))
    assert api.patch(f"/api/v1/residents/{resident_id}", json={"official": True}).status_code == 200

    owned = keys(sessions, resident_id)
    before = traces(sessions, resident_id, owned)   # the walk does find them while they are there
    for table in ("residents", "progress", "quiz_attempts", "completions", "households",
                  "event_subscriptions", "audit_log", "progress_codes"):
        assert any(t.startswith(f"{table}.") for t in before), (table, before)
    # Their quiz answers point at their attempts: left behind, they would show as dangling.
    assert count(sessions, QuizAnswer) == len(vneid.quiz.questions) and owned["quiz_attempts"]

    me.cmd("xoadulieu")
    me.tap("x:y")
    assert traces(sessions, resident_id, owned) == []
    with sessions() as session:
        [household] = session.scalars(select(Household)).all()
        assert household.created_by is None
        assert session.scalar(select(Resident.household_id).where(Resident.external_id == "7012345679")) == household.id
        [logged] = session.scalars(select(UnansweredQuestion.text)).all()
    assert "mat khau vneid" in logged and "con lon nha em bi om bo an" in logged   # still useful to editors


def test_audit_entries_about_a_forgotten_resident_no_longer_name_them(assistant, sessions):
    from bot.privacy import forget_resident

    me = Chat(assistant, "privacy-audit")
    me.consent_and_skip_profile()
    with sessions() as session:
        resident_id = session.scalar(select(Resident.id))
        other = resident_id + 10   # "resident 11" must not be mistaken for "resident 1"
        session.add_all([
            AuditEntry(actor="token 1 (admin)", action="resident.update", subject=f"resident {resident_id}",
                       detail={"official": True}),
            AuditEntry(actor="token 1 (admin)", action="resident.update", subject=f"resident {other}",
                       detail={"official": True}),
            AuditEntry(actor="token 1 (admin)", action="residents.merge", subject="residents",
                       detail={"resident_ids": [resident_id, other], "kept_resident": str(resident_id),
                               "rows": resident_id}),
        ])
        session.commit()
        forget_resident(session, resident_id)
        session.commit()
        entries = session.execute(select(AuditEntry.subject, AuditEntry.detail).order_by(AuditEntry.id)).all()
    assert [tuple(e) for e in entries] == [
        ("resident (deleted)", {"official": True}),
        (f"resident {other}", {"official": True}),
        ("residents", {"resident_ids": [other], "kept_resident": None, "rows": resident_id}),  # not a resident key
    ]


def test_withdrawing_consent_deletes_a_household_left_empty(assistant, sessions):
    me = Chat(assistant, "privacy-alone")
    me.consent_and_skip_profile()
    me.cmd("giadinh")
    me.tap("gd:new")
    assert count(sessions, Household) == 1
    me.press("c:n")   # the old consent message: "no" after "yes" deletes
    assert count(sessions, Resident) == 0
    assert count(sessions, Household) == 0


def test_an_official_deleting_a_resident_clears_their_household(api, assistant, sessions):
    me = Chat(assistant, "privacy-api")
    me.consent_and_skip_profile()
    me.cmd("giadinh")
    me.tap("gd:new")
    with sessions() as session:
        resident_id = session.scalar(select(func.min(Resident.id)))
    assert api.delete(f"/api/v1/residents/{resident_id}").status_code == 204
    assert count(sessions, Resident) == 0
    assert count(sessions, Household) == 0
