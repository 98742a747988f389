"""One numbering of the paper: every reference in the package, notebooks and documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ritm_lite.paper import CITED_BY, SECTIONS, cite

ROOT = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"\bSec\. (\d+(?:\.\d+)?)\b")
# any other way of pointing at a numbered section: "section 3", "Sec 3", "Sect. 3", "§3"
OTHER_FORMS = re.compile(r"§\s*\d|\bsect?(?:ion\s*|\.\s*|\s+)\d", re.IGNORECASE)


def sources() -> list[Path]:
    """Every text a reader meets: package code and documents, notebooks (with solutions),
    benchmarks, READMEs and docs (the generated .ipynb pairs mirror the .py files)."""
    files = [*ROOT.glob("ritm_lite/**/*.py"), *ROOT.glob("ritm_lite/**/*.md"), *ROOT.glob("notebooks/**/*.py"),
             *ROOT.glob("benchmarks/*.py"), *ROOT.glob("**/README.md"), *ROOT.glob("docs/*.md")]
    return sorted({f for f in files if ".venv" not in f.parts and "test-artifacts" not in f.parts})


def citations(text: str) -> list[str]:
    return CITATION.findall(text)


def test_every_citation_uses_a_section_of_the_one_numbering():
    seen = {}
    for path in sources():
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(ROOT))
        for number in citations(text):
            assert number in SECTIONS, f"{rel} cites Sec. {number}, not in ritm_lite.paper.SECTIONS"
            seen.setdefault(number, rel)
        for line_no, line in enumerate(text.splitlines(), 1):
            if "Sec. " in line:
                line = CITATION.sub("", line)
            other = OTHER_FORMS.search(line)
            assert other is None, f"{rel}:{line_no} cites a section as {other.group(0)!r}; write 'Sec. N'"
    assert len(seen) >= 5, f"the project cites the paper in only {sorted(seen)}"


@pytest.mark.parametrize("rel, section", sorted(CITED_BY.items()))
def test_each_concept_cites_its_section(rel, section):
    text = (ROOT / rel).read_text(encoding="utf-8")
    assert cite(section) in text, f"{rel} builds the concept of Sec. {section} but does not cite it"


def test_the_course_map_agrees_with_the_notebooks():
    text = (ROOT / "notebooks/00_overview.py").read_text(encoding="utf-8")
    rows = re.findall(r"^# \| (\d\d) \| [^|]+ \| ([^|]+) \|$", text, re.MULTILINE)
    assert len(rows) == len(list(ROOT.glob("notebooks/[0-9][0-9]_*.py"))) - 1, rows  # all but 00
    for number, cell in rows:
        (notebook,) = ROOT.glob(f"notebooks/{number}_*.py")
        expected = CITED_BY.get(str(notebook.relative_to(ROOT)))
        got = citations(cell)
        assert got == ([expected] if expected else []), f"00's map gives notebook {number} {cell.strip()!r}"


def test_the_checker_catches_what_it_should():
    assert citations("as the paper says (Sec. 3.4, and Sec. 5)") == ["3.4", "5"]
    for wrong in ("§3.3", "section 4", "Sec 3.2", "Sect. 3", "sec.3"):
        assert OTHER_FORMS.search(wrong), wrong
    assert not OTHER_FORMS.search("the section on ZoomIn, 3 clicks, second 4")
    with pytest.raises(KeyError, match="no section"):
        cite("3.5")
