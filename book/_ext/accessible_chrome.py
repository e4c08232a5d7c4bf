"""The theme's page chrome fixed where axe's WCAG 2.1 A and AA rules fail it (tests/test_browser.py runs them):

- book/_templates/ replaces two theme components whose accessible names did not contain their visible text:
  the search field and the colour-mode button;
- book/_static/accessible_chrome.css gives light mode a link colour with 4.5:1 contrast in tinted boxes;
- each citation of the bibliography is a list item: docutils marks it ``role="doc-biblioentry"`` (deprecated)
  inside ``role="list"``, and a list's children must be list items (axe: aria-required-children).
"""
import pathlib
import types

BOOK = pathlib.Path(__file__).resolve().parents[1]


class _CitationsAsListItems:
    def visit_citation(self, node):
        super().visit_citation(node)
        self.body[-1] = self.body[-1].replace('role="doc-biblioentry"', 'role="listitem"')


def _add_folders(app, config):
    config.templates_path = [str(BOOK / "_templates"), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(BOOK / "_static")]


def _list_citations(app):
    if app.builder.format != "html":
        return
    base = app.registry.get_translator_class(app.builder)  # the theme's translator, set up before this one
    translator = types.new_class(base.__name__, (_CitationsAsListItems, base))
    app.set_translator(app.builder.name, translator, override=True)


def setup(app):
    app.connect("config-inited", _add_folders)
    app.connect("builder-inited", _list_citations, priority=900)
    app.add_css_file("accessible_chrome.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
