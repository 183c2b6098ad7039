"""Web pages as content management systems publish them: the content in a marked element, the site around it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.knowledge.parsers import parse_file

SITE = """<html><head><title>Stand D22 | Wendmere County Show</title></head><body>
<div class="topbar">Wendmere County Show, 16-18 June · <a href="/tickets">Advance tickets save up to 20%</a></div>
<div class="cookies">We use cookies to improve the site. Accept all?</div>
{content}
<div class="sponsor">Visit Fenwick Tractors on Stand D24 for the best deals of the show.</div>
</body></html>"""
STAND = ("<h1>Ardlow Dairy Systems</h1><p>Live milking with commentary at 09:30 and 14:00 daily.</p>"
         "<p>Stand D22 is half-way along Aisle D, opposite the Hall 4 cafe.</p>")


@pytest.mark.parametrize("wrapped", [
    f'<div id="content">{STAND}</div>',
    f'<div id="main-content" class="wrap">{STAND}</div>',
    f"<article class='exhibitor'>{STAND}</article>",
])
def test_the_content_element_is_read_and_the_site_around_it_is_not(wrapped: str, tmp_path: Path) -> None:
    """Seen on a show's exhibitor page: the site's ticket banner was read as the stand's own text."""
    (tmp_path / "stand.html").write_text(SITE.format(content=wrapped), encoding="utf-8")
    text = "\n".join(b.text for b in parse_file(tmp_path / "stand.html").blocks)
    assert "Live milking with commentary at 09:30 and 14:00 daily." in text and "Aisle D" in text
    assert "tickets" not in text and "cookies" not in text and "Fenwick" not in text


def test_a_page_of_several_articles_is_read_whole(tmp_path: Path) -> None:
    """A news page of several <article> teasers has no one content element: nothing of it is dropped."""
    teasers = "".join(f"<article><h2>Day {n}</h2><p>News of day {n} at the show.</p></article>" for n in (1, 2))
    (tmp_path / "news.html").write_text(SITE.format(content=teasers), encoding="utf-8")
    text = "\n".join(b.text for b in parse_file(tmp_path / "news.html").blocks)
    assert "News of day 1 at the show." in text and "News of day 2 at the show." in text
    assert "Advance tickets" in text  # nothing marks the content: the page is read as it is
