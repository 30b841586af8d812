"""The dashboard's files: each module the page imports is one the daemon serves (a module left out
of ui.FILES would be a 404, and the page would draw nothing), and nothing in the folder is unserved."""

from __future__ import annotations

import re

from emulator.api import ui

IMPORT = re.compile(r'^import \{[^}]*\} from "/ui/([^"]+)";', re.MULTILINE)


def test_every_file_of_the_page_is_served():
    on_disk = {path.name for path in ui.FOLDER.iterdir() if path.is_file()}
    assert on_disk == set(ui.FILES)


def test_every_import_names_a_served_module_that_exports_what_is_imported():
    for name in (n for n in ui.FILES if n.endswith(".js")):
        text = (ui.FOLDER / name).read_text()
        for match in IMPORT.finditer(text):
            module = match.group(1)
            assert module in ui.FILES, f"{name} imports /ui/{module}, which is not served"
            exported = (ui.FOLDER / module).read_text()
            names = re.search(r"\{([^}]*)\}", match.group(0)).group(1)
            for imported in (n.strip() for n in names.split(",") if n.strip()):
                assert re.search(rf"^export (?:async )?(?:function|const|class) {re.escape(imported)}(?![\w$])", exported,
                                 re.MULTILINE), f"{name} imports {imported} from {module}, which does not export it"
