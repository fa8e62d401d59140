"""Check a built site offline: every internal link, image and script of every page resolves.

    python scripts/check_site.py site/_build/html

For each ``.html`` file, every ``href`` / ``src`` that is not an external URL (http, https, mailto,
data, javascript) must name a file inside the site, and a ``#fragment`` on a page must name an element
``id`` of that page. External links are listed, not fetched (CI has no network beyond the package
index). Exits 1 with one line per broken reference.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL = ("http", "https", "mailto", "data", "javascript", "tel", "ftp")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []  # (attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            elif name in ("href", "src") and not (tag == "a" and name == "src"):
                self.refs.append((name, value))


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(errors="replace"))
    return page


def check(root: Path) -> tuple[list[str], int, int, set[str]]:
    """(broken references, pages, internal references checked, external URLs seen)."""
    root = root.resolve()
    # _static/ holds the theme's assets, among them Jinja template fragments named *.html: not pages
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    parsed = {p: parse(p) for p in pages}
    broken, checked, external = [], 0, set()
    for page, info in parsed.items():
        for attr, value in info.refs:
            parts = urlsplit(value)
            if parts.scheme in EXTERNAL or value.startswith("//"):
                external.add(value)
                continue
            checked += 1
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(root)}: {attr}={value!r}"
            if root not in target.parents and target != root:
                broken.append(f"{where} points outside the site")
            elif not target.is_file():
                broken.append(f"{where}: no such file")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where}: no element with id {parts.fragment!r}")
    return broken, len(pages), checked, external


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html_dir", type=Path, help="the built site (jupyter-book: site/_build/html)")
    args = p.parse_args()
    if not (args.html_dir / "index.html").is_file():
        print(f"error: {args.html_dir} has no index.html; build the site first (bash scripts/build_site.sh)")
        return 1
    broken, pages, checked, external = check(args.html_dir)
    by_host: dict[str, int] = defaultdict(int)
    for url in external:
        by_host[urlsplit(url).netloc or urlsplit(url).scheme] += 1
    for line in broken:
        print(f"broken: {line}")
    print(f"{pages} pages, {checked} internal references checked, {len(broken)} broken; "
          f"{len(external)} external URLs not fetched ({', '.join(sorted(by_host)) or 'none'})")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
