"Sphinx configuration of the Quarto-free docs site; `make docs` (tools/build_docs.py) generates its sources."
import configparser
from pathlib import Path

root = Path(__file__).resolve().parent.parent
cfg = configparser.ConfigParser()
cfg.read(root/'settings.ini')
ini = cfg['DEFAULT']

project = ini['lib_name']
author = ini['author']
copyright = ini['copyright']
release = version = ini['version']
html_title = ini['lib_name']

extensions = ['myst_nb', 'sphinx.ext.mathjax']
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints']
nb_execution_mode = 'off'              # the notebooks' stored outputs are the docs: never re-run them
nb_render_markdown_format = 'myst'     # show_doc's markdown outputs become API entries
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'attrs_inline', 'attrs_block', 'colon_fence']
myst_heading_anchors = 3
suppress_warnings = ['myst.header']    # show_doc entries are `###` under the page title, as in nbdev

html_theme = 'furo'
html_static_path = ['_static', str(root/'build'/'docs'/'static')]  # the second holds MathJax (tools/build_docs.py)
html_css_files = ['microtorch.css']
html_favicon = '_static/favicon.svg'   # the pages' icon link
html_extra_path = ['_extra']           # copied to the site's root: favicon.ico (the same drawing at 16-48 px)
html_copy_source = False
html_show_sourcelink = False
pygments_style = 'friendly'
pygments_dark_style = 'monokai'
mathjax_path = 'mathjax/tex-svg.js'    # served from the site itself: no CDN, works offline
