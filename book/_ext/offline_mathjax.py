"""Serve MathJax from the site itself when ``BOOK_MATHJAX_DIR`` names a local copy of the npm ``mathjax@3``
package (``make book-offline`` sets it), so the built book reads with no network. Unset, pages load MathJax
from its CDN as usual."""
import os
import pathlib


def _use_local_copy(app, config):
    package = os.environ.get("BOOK_MATHJAX_DIR")
    if not package:
        return
    package = pathlib.Path(package).resolve()
    if not (package / "es5" / "tex-mml-chtml.js").exists():
        raise FileNotFoundError(f"BOOK_MATHJAX_DIR={package} holds no es5/tex-mml-chtml.js (run `make mathjax`)")
    # The package's parent folder is copied into _static, so the script lands at _static/mathjax/es5/.
    config.html_static_path = [*config.html_static_path, str(package.parent)]
    config.mathjax_path = f"{package.name}/es5/tex-mml-chtml.js"


def setup(app):
    app.connect("config-inited", _use_local_copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
