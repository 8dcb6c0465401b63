"""Every comment that cites a design document cites one in the repository, at a section it has."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DESIGN = REPO / "docs" / "design"
SPECS = "simulator|placement|prototype|mission|conventions|served-throughput"
TEXT = (".py", ".smk", ".md", ".yaml", ".yml", ".toml", ".rst", ".cfg", ".txt")
# "docs/design/simulator.md s5.2.1", "... section 3", "... s10-11c", "... trap 24"
CITATION = re.compile(r"docs/design/([\w-]+)\.md,? (?:(s|section |sections )(\d+(?:\.\d+)*)|trap (\d+))")


def _tracked() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO / f for f in out if f.endswith(TEXT) or f == "Snakefile"]


def _sections(doc: Path) -> set[str]:
    """Section numbers of a design page.

    Headings "## 4. ..", "### 4.2 ..", bold "**5.2.1 ..", items "a. .." of s11.
    """
    found = set()
    for line in doc.read_text().splitlines():
        m = re.match(r"#{2,4} (\d+(?:\.\d+)*)\.? ", line) or re.match(r"\*\*(\d+(?:\.\d+)+)\.? ", line)
        if m:
            found.add(m.group(1))
    return found


def _traps(doc: Path) -> set[str]:
    text = doc.read_text()
    part = re.split(r"^## (?:\d+\. )?Traps.*$", text, flags=re.M)
    return set(re.findall(r"^(\d+)\. ", part[-1], flags=re.M)) if len(part) > 1 else set()


def test_no_citation_of_a_document_outside_the_repository():
    """A spec page is cited as docs/design/<page>.md; any other path to it must exist in the repository."""
    cited = re.compile(rf"(?<![\w.-])((?:[\w.-]+/)*)(?:{SPECS})\.md")
    offenders = []
    for path in _tracked():
        if DESIGN in path.parents or path == Path(__file__):
            continue  # pages of docs/design link each other by relative name
        for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for m in cited.finditer(line):
                if m.group(1) != "docs/design/" or not (REPO / m.group(0)).is_file():
                    offenders.append(f"{path.relative_to(REPO)}:{no}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


def test_every_cited_section_and_trap_exists():
    missing = []
    for path in _tracked():
        text = path.read_text(errors="replace")
        for m in CITATION.finditer(text):
            doc = DESIGN / f"{m.group(1)}.md"
            if not doc.is_file():
                missing.append(f"{path.relative_to(REPO)}: {m.group(0)} (no such page)")
            elif m.group(3) and m.group(3) not in _sections(doc):
                missing.append(f"{path.relative_to(REPO)}: {m.group(0)} (no section {m.group(3)})")
            elif m.group(4) and m.group(4) not in _traps(doc):
                missing.append(f"{path.relative_to(REPO)}: {m.group(0)} (no trap {m.group(4)})")
    assert not missing, "\n".join(missing)


def test_design_pages_link_only_to_existing_pages():
    for page in DESIGN.glob("*.md"):
        for target in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", page.read_text()):
            assert (DESIGN / target).is_file(), f"{page.name} links to missing {target}"
