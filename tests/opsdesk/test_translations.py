"""The English catalog is complete, compiled from the committed .po, and actually used.

After adding or changing a translatable string:

    .venv/bin/python manage.py makemessages -l en --ignore=.venv --ignore=var --ignore=bench \
        --no-obsolete
    # translate every empty msgstr and every "#, fuzzy" entry in locale/en/LC_MESSAGES/django.po
    .venv/bin/python manage.py compilemessages -l en --ignore=.venv
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

from tests.conftest import ROOT, missing

MESSAGES = ROOT / "locale" / "en" / "LC_MESSAGES"
PO_FILE = MESSAGES / "django.po"
MO_FILE = MESSAGES / "django.mo"

# Language names are shown in their own language in the switcher.
SAME_IN_ENGLISH = {"简体中文"}
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff60]")


@dataclass
class Entry:
    line: int
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return " ".join(self.references[:2]) or f"django.po:{self.line}"


_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


def _unquote(text: str) -> str:
    # PO strings use C escapes, which for the escapes gettext emits match Python's.
    return ast.literal_eval(text)


def parse_po(path: Path) -> list[Entry]:
    """A minimal PO reader: active entries with context, plural forms, flags and references."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int | None] | None = None

    def finish() -> None:
        nonlocal entry, target
        if entry is not None and (entry.msgid or entry.msgstr):
            entries.append(entry)
        entry, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):  # obsolete entry
            continue
        if line.startswith("#"):
            if entry is not None and target is not None:  # comment after strings: next entry
                finish()
            entry = entry or Entry(line=number)
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
            continue
        if line.startswith('"'):
            assert entry is not None and target is not None, f"django.po:{number}: stray string"
            keyword, index = target
            if keyword == "msgstr":
                entry.msgstr[index or 0] += _unquote(line)
            else:
                setattr(entry, keyword, getattr(entry, keyword) + _unquote(line))
            continue
        match = _KEYWORD.match(line)
        assert match, f"django.po:{number}: cannot parse {raw!r}"
        keyword, index, value = match.groups()
        if keyword in ("msgctxt", "msgid") and target is not None and target[0] == "msgstr":
            finish()  # a new entry without a blank line in between
        entry = entry or Entry(line=number)
        text = _unquote(value)
        if keyword.startswith("msgstr"):
            slot = int(index) if index is not None else 0
            entry.msgstr[slot] = text
            target = ("msgstr", slot)
        else:
            setattr(entry, keyword, text)
            target = (keyword, None)
    finish()
    return entries


def _label(entry: Entry) -> str:
    context = f" [context {entry.msgctxt!r}]" if entry.msgctxt else ""
    return f"  {entry.msgid!r}{context}  ({entry.where})"


def test_po_parses_and_has_a_header():
    entries = parse_po(PO_FILE)
    header = [entry for entry in entries if entry.msgid == "" and entry.msgctxt is None]
    assert len(header) == 1, "django.po must have exactly one header entry"
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header[0].msgstr[0]
    assert len(entries) > 100, "django.po looks truncated"


def test_every_entry_is_translated_and_none_is_fuzzy():
    everything = parse_po(PO_FILE)
    entries = [entry for entry in everything if entry.msgid]
    untranslated = [
        entry
        for entry in entries
        if not entry.msgstr
        or any(text == "" for text in entry.msgstr.values())
        or (entry.msgid_plural is not None and len(entry.msgstr) < 2)
    ]
    fuzzy = [entry for entry in entries if "fuzzy" in entry.flags]
    header_fuzzy = any("fuzzy" in entry.flags for entry in everything if not entry.msgid)
    problems = []
    if untranslated:
        problems.append(f"{len(untranslated)} untranslated (empty msgstr):")
        problems.extend(_label(entry) for entry in untranslated)
    if fuzzy:
        problems.append(f"{len(fuzzy)} fuzzy (check the translation, then drop the flag):")
        problems.extend(_label(entry) for entry in fuzzy)
    if header_fuzzy:
        problems.append("the header entry is marked fuzzy")
    assert not problems, (
        "locale/en/LC_MESSAGES/django.po is incomplete:\n"
        + "\n".join(problems)
        + "\nTranslate them, then run: manage.py compilemessages -l en --ignore=.venv"
    )


def test_no_chinese_left_in_english_translations():
    leftovers = [
        entry
        for entry in parse_po(PO_FILE)
        if entry.msgid
        and entry.msgid not in SAME_IN_ENGLISH
        and any(CJK.search(text) for text in entry.msgstr.values())
    ]
    assert not leftovers, "English msgstr still contains Chinese text:\n" + "\n".join(
        _label(entry) for entry in leftovers
    )


def test_committed_mo_matches_the_po(tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        missing("msgfmt is not installed (apt-get install gettext)")
    fresh = tmp_path / "django.mo"
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [msgfmt, "--check-format", "-o", str(fresh), str(PO_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"msgfmt rejected django.po:\n{result.stderr}"
    assert MO_FILE.exists(), "locale/en/LC_MESSAGES/django.mo is missing: run compilemessages"

    with fresh.open("rb") as handle:
        expected = gettext.GNUTranslations(handle)._catalog
    with MO_FILE.open("rb") as handle:
        committed = gettext.GNUTranslations(handle)._catalog
    stale = sorted(
        repr(key)
        for key in expected.keys() | committed.keys()
        if expected.get(key) != committed.get(key)
    )
    assert expected == committed, (
        "locale/en/LC_MESSAGES/django.mo is stale; run "
        "`manage.py compilemessages -l en --ignore=.venv`. Differing msgids (first 20):\n"
        + "\n".join(f"  {key}" for key in stale[:20])
    )


# Aliases, so that makemessages does not pick up this file's literals as msgids.
translate = translation.gettext
translate_plural = translation.ngettext
translate_in_context = translation.pgettext


def test_key_strings_render_in_english():
    with translation.override("en"):
        assert translate("工单") == "Tickets"
        assert translate("服务台工作台") == "Service desk home"
        assert translate("登记来电") == "Log call"
        assert translate("挂起") == "Pending"  # the state
        assert translate_in_context("action", "挂起") == "Put on hold"  # the verb
        assert translate("您好，%(name)s") % {"name": "Li"} == "Hello, Li"
        message = "%(count)d 条通知已标为已读。"
        assert translate_plural(message, message, 1) % {"count": 1} == (
            "1 notification marked as read."
        )
        assert translate_plural(message, message, 3) % {"count": 3} == (
            "3 notifications marked as read."
        )
    with translation.override("zh-hans"):
        assert translate("工单") == "工单"


@pytest.mark.django_db
def test_labels_are_followed_by_the_languages_own_colon(client):
    from tests import factories

    client.force_login(factories.desk_agent())
    client.cookies["django_language"] = "en"

    html = client.get("/tickets/", {"system": "no-such-system"}).content.decode()

    assert "Business system: All" in html
    assert "：" not in html
