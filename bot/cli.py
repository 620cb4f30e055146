"""The `hocvuso` command."""
from __future__ import annotations

import argparse
import gc
import logging
import sys

from pydantic import ValidationError

from bot.config import Settings

log = logging.getLogger("hocvuso")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            message = err["msg"].removeprefix("Value error, ")
            print(f"configuration error: {name}: {message}", file=sys.stderr)
        raise SystemExit(2)


def load_content(settings: Settings):
    from bot.content import ContentError, load_knowledge

    try:
        return load_knowledge(settings.knowledge_dir)
    except ContentError as exc:
        print(f"content error(s) in {settings.knowledge_dir}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2)


def open_database(settings: Settings, *, create: bool):
    """Sessions on the migrated database. Only `migrate` (and the local `chat`) may create one:
    for the others a missing or empty database is an error that says what to do."""
    from sqlalchemy.exc import OperationalError

    from bot import storage
    from bot.db import make_engine, make_sessionmaker, migrate

    url = settings.database_url
    if not create:
        storage.require_existing(url)
    storage.prepare_folder(url)
    engine = make_engine(url)
    try:
        if not create:
            storage.require_migrated(engine, url)
        migrate(url)
        sessions = make_sessionmaker(engine)
        storage.StorageCheck(sessions, url).probe_write()
    except OperationalError as exc:
        raise storage.unusable(url, exc) from None
    return sessions


def build_assistant(settings: Settings, knowledge, *, create: bool = False):
    from bot.assistant import Assistant

    return Assistant(knowledge, open_database(settings, create=create), settings.timezone,
                     media_dir=settings.media_dir)


def cmd_serve(settings: Settings, args) -> None:
    import uvicorn

    from bot.scheduler import share_the_interpreter
    from bot.storage import ServerLock, sqlite_path
    from bot.web import create_app

    knowledge = load_content(settings)
    database = sqlite_path(settings.database_url)
    server_lock = ServerLock(database) if database is not None and database.is_file() else None
    if server_lock is not None:
        # Two servers on one SQLite file would both lead: both send every broadcast. Held
        # (by this variable) until serve returns.
        server_lock.acquire()
    app = create_app(settings, build_assistant(settings, knowledge))
    share_the_interpreter()      # jobs run in threads beside the replies (bot/scheduler)
    # The content and the free-text index live as long as the process: out of the garbage
    # collector's sight, its full passes stop pausing every reply and send (70 ms each here).
    gc.freeze()
    url = f"http://{settings.host}:{settings.port}"
    print(f"hocvuso is running: web chat at {url}/chat, officials' console at {url}/admin, "
          f"API docs at {url}/docs", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
    if server_lock is not None:
        server_lock.release()


def cmd_chat(settings: Settings, args) -> None:
    from bot.channels.terminal.chat import run_chat

    knowledge = load_content(settings)
    run_chat(build_assistant(settings, knowledge, create=True), args.user, args.name)


def cmd_migrate(settings: Settings, args) -> None:
    open_database(settings, create=True)
    print("database is up to date")


def cmd_content_check(settings: Settings, args) -> None:
    from bot.content.sources_md import render_sources

    knowledge = load_content(settings)
    for code, pack in sorted(knowledge.languages.items()):
        for course in pack.ordered_courses:
            print(f"ok  {code}/{course.id}: {len(course.steps)} steps, "
                  f"{len(course.quiz.questions)} quiz questions, updated {course.updated}")
        questions = sum(len(c.quiz.questions) for c in pack.courses.values())
        print(f"ok  {code}: {len(pack.courses)} courses, {questions} quiz questions, "
              f"{len(pack.faq)} FAQ entries")
    print(f"ok  {len(knowledge.villages)} villages")
    sources_md = settings.knowledge_dir / "SOURCES.md"
    if not sources_md.is_file() or sources_md.read_text(encoding="utf-8") != render_sources(knowledge):
        print(f"note: {sources_md} is out of date; run `hocvuso content sources` to rewrite it")


def cmd_content_sources(settings: Settings, args) -> None:
    from bot.content.sources_md import render_sources

    knowledge = load_content(settings)
    target = settings.knowledge_dir / "SOURCES.md"
    target.write_text(render_sources(knowledge), encoding="utf-8")
    print(f"wrote {target}")


def cmd_content_media(settings: Settings, args) -> None:
    """Per language and course: which parts have a recording (an official's or a file), a
    picture, or neither. Uploads are read from the database when there is one."""
    from collections import defaultdict
    from contextlib import nullcontext

    from bot import storage
    from bot.media.inventory import inventory
    from bot.media.library import MediaLibrary

    knowledge = load_content(settings)
    try:
        sessions = open_database(settings, create=False)
    except storage.DatabaseProblem:
        sessions = None     # a fresh machine: the files in knowledge/ are still worth listing
    media = MediaLibrary(knowledge, sessions, settings.media_dir)
    with (sessions() if sessions else nullcontext()) as session:
        rows = inventory(knowledge, session, media)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        groups[(row.language, row.key.split("/", 1)[0])].append(row)
    marks = {"upload": "🎙 recorded (uploaded)", "file": "🎙 recorded (file)", None: "—  computer voice"}
    for (language, group), parts in groups.items():
        recorded = sum(1 for p in parts if p.recording)
        print(f"{language}/{group}: {recorded} of {len(parts)} recorded, "
              f"{sum(1 for p in parts if p.picture)} with a picture")
        if args.all or group != "faq":
            for part in parts:
                picture = f"  🖼 {part.picture}" if part.picture else ""
                print(f"  {part.key:<40} {marks[part.recording]}{picture}")
    if sessions is None:
        print("note: no database yet, so uploaded recordings are not counted")



def cmd_eval_qa(settings: Settings, args) -> None:
    from pathlib import Path

    from bot.qa import QaIndex
    from bot.qa.evaluate import QA_SETS, SETS, evaluate, labelled, load_devset, report

    knowledge = load_content(settings)
    index = QaIndex(knowledge.pack("vi"))
    if args.devset:
        chosen = {Path(args.devset).stem: Path(args.devset)}
    else:
        chosen = {name: QA_SETS / file for name, file in SETS.items() if (QA_SETS / file).exists()}
    for name, path in chosen.items():
        devset = load_devset(path)
        if not labelled(devset):
            print(f"{name}: not labelled yet (some questions have no `expect`), skipped\n")
            continue
        print(report(evaluate(index, devset, name), show=args.show) + "\n")


def cmd_unanswered(settings: Settings, args) -> None:
    from zoneinfo import ZoneInfo

    from bot.feedback import not_helpful, unanswered

    with open_database(settings, create=False)() as session:
        rows = unanswered(session, args.limit)
        voted = not_helpful(session, tz := ZoneInfo(settings.timezone), args.limit)
    if not rows:
        print("no unanswered questions yet")
    for row in rows:   # the day in the commune, as the votes' days are
        print(f"{row.count:5d}  {row.last_seen.astimezone(tz):%Y-%m-%d}  {row.text}")
    if voted:
        print("\nanswered, but not what they meant (👎, 👍, last day, question → the answer it got):")
    for row in voted:
        print(f"{row.down:5d} {row.up:4d}  {row.last_day:%Y-%m-%d}  {row.text}  → {row.answer}")


def cmd_poster(settings: Settings, args) -> None:
    from pathlib import Path

    from bot.poster import PosterError, check_telegram_username, find_fonts, poster_codes, render_poster, \
        telegram_username

    if settings.public_url is None:
        print("configuration error: HOCVUSO_PUBLIC_URL: not set; the poster's QR code opens the web chat "
              "there (set the address residents open, like https://hocvuso.example.org)", file=sys.stderr)
        raise SystemExit(2)
    try:
        fonts = find_fonts()
        knowledge = load_content(settings)
        village = knowledge.village(args.village)
        if village is None:
            raise PosterError(f"--village: no village {args.village!r}; the villages are: "
                              + ", ".join(v.id for v in knowledge.villages))
        if args.telegram_username:
            username = check_telegram_username(args.telegram_username)
        elif settings.telegram_bot_token:
            username = telegram_username(settings.telegram_api_url, settings.telegram_bot_token)
        else:
            username = None
        codes = poster_codes(village.id, settings.public_url, username, settings.zalo_bot_link)
        pdf = render_poster(knowledge, village, codes, fonts)
    except PosterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    out = Path(args.out or f"poster-{village.id}.pdf")
    try:
        out.write_bytes(pdf)
    except OSError as exc:
        print(f"error: --out: cannot write the poster to {out}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"wrote {out}: the poster of {village.name}, with QR codes for " + ", ".join(c.url for c in codes))
    if username is None:
        print("note: no Telegram code: set TELEGRAM_BOT_TOKEN, or give --telegram-username")
    if settings.zalo_bot_link is None:
        print("note: no Zalo code: set ZALO_BOT_LINK (the link to the bot, from Zalo's bot manager)")


def _database(settings: Settings):
    """The migrated database, with villages and targets seeded from knowledge/."""
    from bot.reference import seed_reference_data

    sessions = open_database(settings, create=False)
    seed_reference_data(sessions, load_content(settings))
    return sessions


def cmd_create_token(settings: Settings, args) -> None:
    from admin_api.deps import hash_token, new_token
    from bot.models import AdminToken, AuditEntry, Village

    if (args.role == "village") != bool(args.village):
        print("error: --village ID is needed with --role village, and only then", file=sys.stderr)
        raise SystemExit(2)
    with _database(settings)() as session:
        if args.village and session.get(Village, args.village) is None:
            print(f"error: no village {args.village!r} (see GET /api/v1/villages)", file=sys.stderr)
            raise SystemExit(2)
        token = new_token()
        row = AdminToken(name=args.name, token_hash=hash_token(token), role=args.role, village_id=args.village)
        session.add(row)
        session.flush()
        session.add(AuditEntry(actor="command line", action="token.create", subject=f"token {row.id}",
                               detail={"role": args.role, "village": args.village}))
        session.commit()
        print(f"token {row.id} ({args.role}{', ' + args.village if args.village else ''}) created.")
        print("Give it to its holder now; it is stored hashed and cannot be shown again:")
        print(token)


def cmd_list_tokens(settings: Settings, args) -> None:
    from sqlalchemy import select

    from bot.models import AdminToken

    with _database(settings)() as session:
        for t in session.scalars(select(AdminToken).order_by(AdminToken.id)):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            print(f"{t.id:4d}  {t.role:8s} {t.village_id or '-':24s} {state:18s} {t.name}")


def cmd_revoke_token(settings: Settings, args) -> None:
    from bot.models import AdminToken, AuditEntry, utcnow

    with _database(settings)() as session:
        token = session.get(AdminToken, args.id)
        if token is None:
            print(f"error: no token {args.id}", file=sys.stderr)
            raise SystemExit(2)
        token.revoked_at = token.revoked_at or utcnow()
        session.add(AuditEntry(actor="command line", action="token.revoke", subject=f"token {token.id}"))
        session.commit()
        print(f"token {token.id} revoked")


def _read_password() -> str:
    """Asked twice at a terminal; one line on standard input otherwise (for scripts)."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password (10 characters or more): ")
    if getpass.getpass("the same password again: ") != first:
        print("error: the two passwords differ", file=sys.stderr)
        raise SystemExit(2)
    return first


def cmd_create_user(settings: Settings, args) -> None:
    from bot.models import AuditEntry, Village
    from console.security import AccountError, create_user

    with _database(settings)() as session:
        if args.village and session.get(Village, args.village) is None:
            print(f"error: --village: no village {args.village!r} (see the Bản page or GET /api/v1/villages)",
                  file=sys.stderr)
            raise SystemExit(2)
        try:
            user = create_user(session, args.username, _read_password(), args.role, args.village)
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        session.add(AuditEntry(actor="command line", action="console_user.create", subject=f"user {user.id}",
                               detail={"role": args.role, "village": args.village}))
        session.commit()
        print(f"user {user.username} ({args.role}{', ' + args.village if args.village else ''}) created: "
              "sign in at /admin")


def cmd_set_password(settings: Settings, args) -> None:
    from sqlalchemy import select

    from bot.models import AuditEntry, ConsoleUser
    from console.security import AccountError, set_password

    with _database(settings)() as session:
        user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == args.username.strip().lower()))
        if user is None:
            print(f"error: no user {args.username!r}", file=sys.stderr)
            raise SystemExit(2)
        try:
            set_password(session, user, _read_password())
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        session.add(AuditEntry(actor="command line", action="console_user.password", subject=f"user {user.id}"))
        session.commit()
        print(f"new password set for {user.username}; the account is unlocked and signed out everywhere")


def cmd_list_users(settings: Settings, args) -> None:
    from sqlalchemy import select

    from bot.models import ConsoleUser, utcnow

    with _database(settings)() as session:
        for u in session.scalars(select(ConsoleUser).order_by(ConsoleUser.id)):
            locked = u.locked_until is not None and u.locked_until > utcnow()
            print(f"{u.id:4d}  {u.role:8s} {u.village_id or '-':24s} {'locked' if locked else 'active':8s} {u.username}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hocvuso", description="The digital-skills assistant of the commune")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot, web chat, admin API and scheduler").set_defaults(func=cmd_serve)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default="local", help="who you are (each user has own progress)")
    chat.add_argument("--name", default=None, help="first name to use")
    chat.set_defaults(func=cmd_chat)
    sub.add_parser("migrate", help="create or upgrade the database").set_defaults(func=cmd_migrate)
    content = sub.add_parser("content", help="content tools")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    content_sub.add_parser("check", help="validate knowledge/").set_defaults(func=cmd_content_check)
    content_sub.add_parser("sources", help="rewrite knowledge/SOURCES.md from the content's sources") \
        .set_defaults(func=cmd_content_sources)
    media = content_sub.add_parser("media", help="which lesson parts have a recording, a picture or neither, "
                                                 "per language")
    media.add_argument("--all", action="store_true", help="list every FAQ answer too, not only their count")
    media.set_defaults(func=cmd_content_media)
    evaluation = sub.add_parser("eval-qa", help="right, wrong and declined free-text answers on each "
                                "question set in tests/qa, by typing style")
    evaluation.add_argument("--devset", help="one YAML question set (default: every set in tests/qa)")
    evaluation.add_argument("--show", type=int, default=20, help="how many misses to list")
    evaluation.set_defaults(func=cmd_eval_qa)
    unanswered = sub.add_parser("unanswered", help="the questions the bot could not answer, most asked first, "
                                                   "then the answers residents voted 👎")
    unanswered.add_argument("--limit", type=int, default=30)
    unanswered.set_defaults(func=cmd_unanswered)
    poster = sub.add_parser("poster", help="an A4 PDF poster for a village's cultural house, with QR codes "
                                           "that open the assistant")
    poster.add_argument("--village", required=True, help="the village id (knowledge/villages.yaml)")
    poster.add_argument("--out", help="the PDF file to write (default: poster-<village>.pdf)")
    poster.add_argument("--telegram-username", help="the bot's username, instead of asking Telegram (getMe)")
    poster.set_defaults(func=cmd_poster)
    admin = sub.add_parser("admin", help="admin API tokens and console accounts")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create-token", help="make a token for the admin API (printed once)")
    create.add_argument("--role", choices=("admin", "village", "viewer"), required=True)
    create.add_argument("--village", help="the village id, for --role village")
    create.add_argument("--name", default="", help="who holds it, for the audit log (e.g. 'Trưởng bản A')")
    create.set_defaults(func=cmd_create_token)
    admin_sub.add_parser("list-tokens", help="tokens and their roles").set_defaults(func=cmd_list_tokens)
    revoke = admin_sub.add_parser("revoke-token", help="stop a token from working")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_revoke_token)
    user = admin_sub.add_parser("create-user", help="make an official's account for the console at /admin "
                                                    "(asks for the password)")
    user.add_argument("--username", required=True)
    user.add_argument("--role", choices=("admin", "village", "viewer"), required=True)
    user.add_argument("--village", help="the village id, for --role village")
    user.set_defaults(func=cmd_create_user)
    password = admin_sub.add_parser("set-password", help="give an account a new password (also unlocks it)")
    password.add_argument("--username", required=True)
    password.set_defaults(func=cmd_set_password)
    admin_sub.add_parser("list-users", help="console accounts and their roles").set_defaults(func=cmd_list_users)
    args = parser.parse_args(argv)

    settings = load_settings()
    from bot.logs import setup_logging

    setup_logging(settings.log_level, [settings.telegram_bot_token, settings.admin_token,
                                       settings.telegram_webhook_secret])
    from sqlalchemy.exc import OperationalError

    from bot import storage

    try:
        args.func(settings, args)
    except storage.DatabaseProblem as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OperationalError as exc:  # the database went away while a command ran
        print(f"configuration error: {storage.unusable(settings.database_url, exc)}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
