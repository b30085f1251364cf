"""Build the docs site into _docs/ without Quarto: `make docs` (`python tools/build_docs.py`).

1. nbdev's own processors (the ones `nbdev.serve.proc_nbs` runs for `nbdev_docs` before Quarto)
   turn nbs/ into _proc/: `#| hide` cells go, `show_doc` entries are added and rendered, links
   added; nbs/api.md.py prints the API page. One difference: nbdev re-runs every cell that
   imports something, we re-run such a cell only if it does nothing else (no training for docs).
2. Each processed page becomes a Sphinx (myst-nb) source under build/docs/src, named like the
   Quarto page (00_tensor.ipynb -> tensor.html), in the order of nbs/sidebar.yml. Quarto cell
   options (`echo: false`, `output: asis`, ...) become myst-nb tags. Stored outputs are used as
   they are: no notebook is executed.
3. Sphinx (furo theme) writes _docs/, with MathJax copied from the npm package mathjax@3: the
   site needs no network. nbdev's absolute doc links are made relative, then every local link,
   anchor and image of the site is checked.

The repository's address is one setting, `git_url` in settings.ini: show_doc's "source" links and
links from the notebooks to repository files (`[x](../CONTRIBUTING.md)`) point there, and while it
is empty (or a placeholder such as https://example.com/...) the site has no source links at all
and such links become plain text."""
import configparser, html, json, re, shutil, subprocess, sys, tarfile, warnings
from pathlib import Path
from urllib.parse import urlparse

root = Path(__file__).resolve().parent.parent
build = root/'build'/'docs'
src, static, out = build/'src', build/'static', root/'_docs'
MATHJAX = 'mathjax@3'
_option = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')

def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser()
    cfg.read(root/'settings.ini')
    return cfg['DEFAULT']

def repo_url() -> str:
    "settings.ini's `git_url` without a trailing slash; '' while it is unset or a placeholder."
    url = settings().get('git_url', '').strip().rstrip('/')
    host = urlparse(url).hostname or ''
    placeholder = re.search(r'(^|\.)(example\.(com|org|net)|example|invalid|test|localhost)$', host)
    return url if host and not placeholder else ''

def guard(do_eval):
    "nbdev also runs any cell that imports something; run such a cell only if it does nothing else."
    import ast
    def _do_eval(cell):
        if not do_eval(cell): return False
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or 'show_doc' in cell.source: return True
        return all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in cell.parsed_())
    return _do_eval

def process_notebooks() -> Path:
    "nbdev's docs processors (what `proc_nbs` runs, without the CLI's pip install and sidebar rewrite) -> _proc/."
    import nbdev.processors, nbdev.serve, nbdev.serve_drv
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    nbdev.processors._do_eval = guard(nbdev.processors._do_eval)  # never re-run training code for the docs
    warnings.filterwarnings('ignore', message='Found cells containing imports')  # guard() says it shorter
    cfg = get_config()
    nbs, proc = cfg.nbs_path, cfg.config_path/'_proc'
    shutil.rmtree(proc, ignore_errors=True)
    proc.mkdir()
    files = nbglob(nbs, func=Path, file_glob='', file_re='') + [nbs/'_quarto.yml']
    for job in filter(None, (nbdev.serve._proc_file(f, proc, nbs) for f in files)): nbdev.serve_drv.main(job)
    return proc

def fetch_mathjax():
    "Copy MathJax's tex-svg build (and the extensions it may load) into the site's static files."
    target = static/'mathjax'
    if (target/'tex-svg.js').exists(): return
    cache = build/'cache'
    cache.mkdir(parents=True, exist_ok=True)
    if not list(cache.glob('mathjax-3*.tgz')):
        if not shutil.which('npm'): sys.exit("make docs needs npm to fetch mathjax@3 (apt-get install -y npm)")
        subprocess.run(['npm', 'pack', MATHJAX, '--silent'], cwd=cache, check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(sorted(cache.glob('mathjax-3*.tgz'))[-1]) as tar:
        keep = [m for m in tar.getmembers() if m.isfile() and re.match(
            r'package/es5/(tex-svg\.js|input/tex/extensions/|ui/|a11y/|adaptors/)', m.name)]
        for m in keep:
            dest = target/m.name.removeprefix('package/es5/')
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(tar.extractfile(m).read())

def page_order(proc: Path) -> list:
    "Pages in the order of nbs/sidebar.yml; pages it does not list yet come last."
    import yaml
    listed = yaml.safe_load((proc/'sidebar.yml').read_text())['website']['sidebar']['contents']
    listed = [p for p in listed if isinstance(p, str)]
    found = sorted(p.name for p in proc.iterdir() if p.suffix in ('.ipynb', '.md'))
    missing = [p for p in listed if p not in found]
    if missing: print(f"build_docs: nbs/sidebar.yml lists pages that do not exist: {missing}")
    extra = [p for p in found if p not in listed]
    if extra: print(f"build_docs: pages not in nbs/sidebar.yml, added at the end: {extra} (add them to sidebar.yml)")
    return [p for p in listed if p in found] + extra

def doc_name(page: str) -> str:
    "Sphinx document name = nbdev's page name: 00_tensor.ipynb -> tensor, api.md -> api."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', Path(page).stem.lower())

def local_links(text: str, names: dict) -> str:
    "Links to source notebooks (`[x](01_transpose.ipynb)`, as Quarto takes them) point at our documents."
    return re.sub(r'\]\(([\w.-]+\.(?:ipynb|md))(#[^)]*)?\)',
                  lambda m: f']({names[m[1]]}{Path(m[1]).suffix}{m[2] or ""})' if m[1] in names else m[0], text)

def repo_file_links(text: str) -> str:
    "Links to repository files outside nbs/ (`[x](../CONTRIBUTING.md)`): into the repository, or plain text without one."
    repo, branch = repo_url(), settings().get('branch', 'main')
    return re.sub(r'\[([^\]]+)\]\(\.\./([^)\s]+)\)', lambda m: f'[{m[1]}]({repo}/blob/{branch}/{m[2]})' if repo else m[1], text)

def show_doc_markdown(text: str) -> str:
    """show_doc's entries: its rule above each entry becomes CSS, its Quarto-only link attributes a
    class; its source link stays only when it points into the repository of settings.ini's `git_url`."""
    text = re.sub(r'(?m)^---\n\n(?=\[source\]|#{1,6} )', '', text)
    repo = repo_url()
    def source(m): return f'[source]({m[1]}){{.sourcelink}}\n\n' if repo and m[1].startswith(repo + '/') else ''
    return re.sub(r'\[source\]\((\S+?)\)\{target="_blank" style="float:right; font-size:smaller"\}\n*', source, text)

def title_cell(title: str, description: str = '') -> dict:
    md = f'# {title}\n\n' + (f'{{.description}}\n{description.strip()}\n' if description else '')
    return {'cell_type': 'markdown', 'metadata': {}, 'source': md}

def split_options(source: str) -> tuple:
    "Quarto/nbdev `#|` options of a code cell, and the code without them."
    opts, code = {}, []
    for line in source.splitlines():
        if m := _option.match(line):
            key, _, val = m[1].partition(':') if ':' in m[1].split()[0] else (m[1].split()[0], '', 'true')
            opts[key.strip()] = val.strip().lower() or 'true'
        else: code.append(line)
    return opts, '\n'.join(code).strip('\n')

def convert_cell(cell: dict, names: dict):
    "A processed nbdev cell as myst-nb wants it (None: leave it out)."
    src = ''.join(cell.get('source', ''))
    if cell['cell_type'] == 'raw': return None
    if cell['cell_type'] == 'markdown': return {**cell, 'source': repo_file_links(local_links(src, names))}
    opts, code = split_options(src)
    outputs = cell.get('outputs', [])
    if opts.get('include') == 'false' or (not code and not outputs): return None
    tags = []
    if opts.get('echo') == 'false' or not code: tags.append('remove-input')
    if opts.get('output') == 'false': tags.append('remove-output')
    for o in outputs:
        if 'text/markdown' in o.get('data', {}):
            o['data'] = {'text/markdown': show_doc_markdown(''.join(o['data']['text/markdown']))}
    return {**cell, 'source': code, 'outputs': outputs, 'metadata': {**cell.get('metadata', {}), 'tags': tags}}

def convert_notebook(path: Path, names: dict) -> dict:
    nb = json.loads(path.read_text(encoding='utf-8'))
    cells = nb['cells']
    fm = {}
    if cells and cells[0]['cell_type'] == 'raw':
        import yaml
        fm = yaml.safe_load(''.join(cells[0]['source']).strip().strip('-')) or {}
    nb['cells'] = ([title_cell(fm['title'], fm.get('description', ''))] if 'title' in fm else []) + \
                  [c for c in map(lambda c: convert_cell(c, names), cells) if c]
    for i, c in enumerate(nb['cells']): c.setdefault('id', f'docs-{i}')
    nb['nbformat'], nb['nbformat_minor'] = 4, max(nb.get('nbformat_minor', 5), 5)
    return nb

def convert_markdown(path: Path, names: dict) -> str:
    text = path.read_text(encoding='utf-8')
    if m := re.match(r'---\n(.*?)\n---\n', text, re.S):
        import yaml
        fm = yaml.safe_load(m[1]) or {}
        text = title_cell(fm.get('title', path.stem), fm.get('description', ''))['source'] + text[m.end():]
    return show_doc_markdown(repo_file_links(local_links(text, names)))

def toctree(docs: list) -> dict:
    lines = '\n'.join(docs)
    return {'cell_type': 'markdown', 'metadata': {}, 'id': 'docs-toctree', 'source': f'```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{lines}\n```'}

def write_sources(proc: Path) -> list:
    "build/docs/src: one Sphinx source per page, index first with the sidebar's toctree."
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    pages = page_order(proc)
    names = {p: doc_name(p) for p in pages}
    for page in pages:
        path, name = proc/page, names[page]
        if path.suffix == '.md': (src/f'{name}.md').write_text(convert_markdown(path, names), encoding='utf-8')
        else:
            nb = convert_notebook(path, names)
            if name == 'index': nb['cells'].append(toctree([names[p] for p in pages if names[p] != 'index']))
            (src/f'{name}.ipynb').write_text(json.dumps(nb, indent=1), encoding='utf-8')
    for f in proc.iterdir():  # images and other files a page refers to
        if f.is_file() and f.suffix.lower() in ('.png', '.jpg', '.jpeg', '.svg', '.gif', '.json', '.csv'): shutil.copy2(f, src/f.name)
    return [names[p] for p in pages]

def sphinx():
    "Sphinx builds in build/docs/ (myst-nb writes next to its output folder), then the site is copied to _docs/."
    html = build/'html'
    shutil.rmtree(html, ignore_errors=True)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going', '-j', '2',
           '-c', str(root/'docs'), '-d', str(build/'doctrees'), str(src), str(html)]
    if subprocess.run(cmd, cwd=root).returncode: sys.exit("build_docs: Sphinx reported the warnings above")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out, ignore=shutil.ignore_patterns('.buildinfo', '.doctrees'))
    (out/'.nojekyll').touch()

def relink_and_check(docs: list) -> list:
    "nbdev's absolute doc links -> relative ones; return every broken local link or image."
    ini = settings()
    site = ini['doc_host'].rstrip('/') + '/' + ini['doc_baseurl'].strip('/') + '/'
    pages = {p.relative_to(out).as_posix(): p.read_text(encoding='utf-8') for p in out.rglob('*.html')}
    ids = {k: set(re.findall(r'\bid="([^"]+)"', v)) for k, v in pages.items()}

    def anchor(page, frag):
        "nbdev's anchor (`tensor.backward`, Quarto's id) as Sphinx's id on that page, if there is one."
        from docutils.nodes import make_id
        for cand in (frag, make_id(frag), make_id(frag.replace('_', '-'))):
            if cand in ids.get(page, ()): return '#' + cand
        return ''
    problems = []
    for name, text in pages.items():
        depth = '../' * name.count('/')
        def fix(m):
            page, frag = m[1], m[2] or ''
            if page not in pages: return m[0]
            return f'href="{depth}{page}{anchor(page, html.unescape(frag[1:])) if frag else ""}"'
        text = re.sub(rf'href="{re.escape(site)}([\w./-]+\.html)(#[^"]*)?"', fix, text)
        (out/name).write_text(text, encoding='utf-8')
        for ref in re.findall(r'(?:href|src)="([^"#?:]+\.(?:html|png|jpg|jpeg|svg|js|css))(?:#([^"]*))?"', text):
            target = (out/name).parent/ref[0]
            if not target.exists(): problems.append(f"{name}: missing {ref[0]}")
            elif ref[1] and target.suffix == '.html':
                key = target.resolve().relative_to(out.resolve()).as_posix()
                if ref[1] not in ids.get(key, ()): problems.append(f"{name}: no anchor #{ref[1]} in {ref[0]}")
    missing = [d for d in docs if f'{d}.html' not in pages]
    return problems + [f"page not built: {d}.html" for d in missing]

def main():
    proc = process_notebooks()
    fetch_mathjax()
    docs = write_sources(proc)
    sphinx()
    problems = relink_and_check(docs)
    if problems: sys.exit("build_docs: broken links or images:\n  " + '\n  '.join(problems))
    print(f"build_docs: {len(docs)} pages in {out.relative_to(root)}/ (open {out.relative_to(root)}/index.html)")

if __name__ == '__main__': main()
