"""What python-docx leaves unread in a .docx package: the title in docProps/core.xml when LibreOffice relates it
under another relationship type, and the footnotes and endnotes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk.knowledge.parse_common import clean

if TYPE_CHECKING:
    from docx.document import Document
    from docx.opc.part import Part
    from lxml.etree import _Element

_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_NOTE_KINDS = ("footnote", "endnote")


def _related(rels: dict, reltype: str) -> Part | None:
    """The part a relationship of this type points to (letter case aside)."""
    for rel in rels.values():
        if not rel.is_external and rel.reltype.lower() == reltype.lower():
            return rel.target_part
    return None


def core_title(document: Document) -> str:
    """dc:title of the document's core properties; "" when it has none.

    Read here, not through python-docx's core_properties: it knows the relationship to docProps/core.xml only
    by its standard type (".../package/2006/relationships/metadata/core-properties"), not by the one LibreOffice
    writes (".../officedocument/2006/relationships/metadata/core-properties", which Word reads too), and, not
    finding it, invents core properties titled "Word Document".
    """
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.oxml.parser import parse_xml

    for rel in document.part.package.rels.values():
        if rel.is_external:
            continue
        if rel.reltype.lower().endswith("/metadata/core-properties") or (
            rel.target_part.content_type == CT.OPC_CORE_PROPERTIES
        ):
            title = parse_xml(rel.target_part.blob).find(_DC_TITLE)
            return clean(title.text or "") if title is not None else ""
    return ""


@dataclass
class Notes:
    """Footnote and endnote texts by (kind, id); each is handed out once, at its first reference."""

    texts: dict[tuple[str, str], str]
    given: set[tuple[str, str]] = field(default_factory=set)

    def take(self, element: _Element) -> list[str]:
        """The texts of the notes referenced inside `element` (a paragraph or a table) and not taken before."""
        from docx.oxml.ns import qn

        if not self.texts:
            return []
        out = []
        for ref in element.iter(qn("w:footnoteReference"), qn("w:endnoteReference")):
            key = ("footnote" if ref.tag == qn("w:footnoteReference") else "endnote", ref.get(qn("w:id")) or "")
            if key in self.texts and key not in self.given:
                self.given.add(key)
                out.append(self.texts[key])
        return out


def read_notes(document: Document) -> Notes:
    """The footnotes and endnotes with text. The separators Word and LibreOffice keep there (w:type
    "separator", "continuationSeparator", "continuationNotice") are layout, not notes."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.ns import qn
    from docx.oxml.parser import parse_xml

    texts: dict[tuple[str, str], str] = {}
    for kind, reltype in zip(_NOTE_KINDS, (RT.FOOTNOTES, RT.ENDNOTES), strict=True):
        part = _related(document.part.rels, reltype)
        if part is None:
            continue
        for note in parse_xml(part.blob).iter(qn(f"w:{kind}")):
            if (note.get(qn("w:type")) or "normal") != "normal":
                continue
            # python-docx's CT_P.text: the paragraph's runs and links as text (tabs, breaks), like Paragraph.text
            text = clean(" ".join(p.text or "" for p in note.iter(qn("w:p"))))
            if text:
                texts[(kind, note.get(qn("w:id")) or "")] = text
    return Notes(texts)
