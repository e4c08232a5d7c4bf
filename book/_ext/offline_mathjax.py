"""Serve MathJax from the site itself when ``BOOK_MATHJAX_DIR`` names a MathJax 3 folder, the one that holds
``es5/`` (``make book-offline`` passes the django-static-mathjax package's), so the built book reads with no
network: its es5/ files and licence are copied to _static/mathjax/. Unset, pages load MathJax from its CDN."""
import functools
import os
import pathlib
import shutil


def _use_local_copy(app, config):
    folder = os.environ.get("BOOK_MATHJAX_DIR")
    if not folder:
        return
    folder = pathlib.Path(folder).resolve()
    if not (folder / "es5" / "tex-mml-chtml.js").exists():
        raise FileNotFoundError(f"BOOK_MATHJAX_DIR={folder} holds no es5/tex-mml-chtml.js: name MathJax 3's folder, "
                                "e.g. mathjax/static/mathjax in the django-static-mathjax package")
    config.mathjax_path = "mathjax/es5/tex-mml-chtml.js"  # relative: under _static/
    app.connect("build-finished", functools.partial(_copy_into_site, folder))


def _copy_into_site(folder, app, exception):
    if exception is None and app.builder.format == "html":
        target = pathlib.Path(app.outdir) / "_static" / "mathjax"
        shutil.copytree(folder / "es5", target / "es5", dirs_exist_ok=True)
        shutil.copy2(folder / "LICENSE", target / "LICENSE")


def setup(app):
    app.connect("config-inited", _use_local_copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
