"""Drop duplicate inline <script> tags from every page.

Sphinx 7 registers an inline script (``app.add_js_file(None, body=...)``) added after the builder starts
twice, once under the name ``None`` and once under ``''``, so pages declare ``const THEBE_JS_URL`` twice and
the browser logs "Identifier 'THEBE_JS_URL' has already been declared". Sphinx 8.2 fixes this upstream
(sphinx-doc/sphinx#13402), but Jupyter Book 1.x requires Sphinx 7.
"""


def _drop_duplicates(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _drop_duplicates, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
