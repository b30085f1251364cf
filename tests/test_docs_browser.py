"""The docs site (`make docs` -> _docs/) in real headless Chromium: pages load cleanly and offline,
math renders, plots load, API entries exist, search works, nothing is cut off or spills out of its
box at desktop and phone widths, the favicon is served, no link points at an unset or placeholder
repository. Screenshots go to _docs/_screenshots/.

Needs Debian's chromium (/usr/bin/chromium; `make test` installs it as root) and Python playwright;
never a downloaded browser. Skips, saying why, only where neither can be had."""
import functools, http.server, importlib.util, re, shutil, subprocess, sys, threading
from pathlib import Path
from urllib.parse import urlparse
import pytest

root = Path(__file__).resolve().parent.parent
site = root/'_docs'
shots = site/'_screenshots'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run']

if not Path(CHROMIUM).exists(): pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (make test does it as root)", allow_module_level=True)
sync_api = pytest.importorskip('playwright.sync_api', reason="playwright is not installed: pip install -e '.[dev]'")

def _build_docs():
    "tools/build_docs.py as a module (for `repo_url`, the rule the site is built with)."
    spec = importlib.util.spec_from_file_location('build_docs', root/'tools'/'build_docs.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

def chapters() -> list:
    "Page names of the site in sidebar order, from its home page's navigation."
    html = (site/'index.html').read_text(encoding='utf-8')
    nav = html[html.index('sidebar-tree'):]
    return ['index'] + list(dict.fromkeys(re.findall(r'class="reference internal" href="([\w-]+)\.html"', nav)))


@pytest.fixture(scope='module')
def server():
    "The built site over HTTP on localhost (builds it first when _docs/ is missing)."
    if not (site/'index.html').exists(): subprocess.run([sys.executable, 'tools/build_docs.py'], cwd=root, check=True)
    handler = functools.partial(type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None}), directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_port}'
    httpd.shutdown()

@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()

class Visit:
    "Open a page, recording console errors, page errors, failed requests and any request off this machine."
    def __init__(self, browser, url, width=1280):
        self.problems, self.external = [], []
        self.ctx = browser.new_context(viewport={'width': width, 'height': 900})
        self.ctx.route('**/*', self._route)
        self.page = self.ctx.new_page()
        self.page.on('console', lambda m: m.type == 'error' and self.problems.append(f"console: {m.text}"))
        self.page.on('pageerror', lambda e: self.problems.append(f"page error: {e}"))
        self.page.on('requestfailed', lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on('response', lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.goto(url, wait_until='load')
        self.page.wait_for_load_state('networkidle')
        self.page.evaluate("() => window.MathJax?.startup?.promise ?? true")  # math typeset

    def _route(self, route):
        url = urlparse(route.request.url)
        if url.scheme in ('file', 'data', 'blob', 'about') or url.hostname in ('127.0.0.1', 'localhost'): return route.continue_()
        self.external.append(route.request.url)
        route.abort()

    def close(self): self.ctx.close()

@pytest.fixture
def visit(browser, server):
    opened = []
    def _open(path, width=1280):
        v = Visit(browser, f'{server}/{path}', width)
        opened.append(v)
        return v
    yield _open
    for v in opened: v.close()

# Every shown element whose content (text, images, math, inner scroll boxes) reaches past its own
# box while the box does not scroll (overflow-x auto/scroll): that content is cut off or spills
# over its neighbours. Screen-reader-only copies (MathJax's MathML) are not drawn and are skipped.
OVERFLOW_JS = """() => {
  const style = el => getComputedStyle(el);
  const scrolls = el => ['auto', 'scroll'].includes(style(el).overflowX);
  const srOnly = el => style(el).position === 'absolute' && style(el).clip !== 'auto';
  const shown = el => el.getClientRects().length > 0 && style(el).visibility !== 'hidden' && !srOnly(el);
  const underSrOnly = el => { for (let a = el; a; a = a.parentElement) if (srOnly(a)) return true; return false; };
  const graphic = el => /^(IMG|SVG|CANVAS|VIDEO|IFRAME|INPUT|TEXTAREA|SELECT)$/i.test(el.tagName);
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const farthest = el => {   // the rightmost edge of el's content and what reaches it
    let far = -Infinity, who = null;
    const visit = node => {
      for (const n of node.childNodes) {
        let r;
        if (n.nodeType === Node.TEXT_NODE) {
          if (!n.textContent.trim() || !shown(n.parentElement)) continue;
          const range = document.createRange(); range.selectNodeContents(n); r = range.getBoundingClientRect();
        } else if (n.nodeType === Node.ELEMENT_NODE) {
          if (!shown(n)) continue;
          if (graphic(n) || style(n).overflowX !== 'visible') r = n.getBoundingClientRect();  // its box, not what it holds
          else { visit(n); continue; }
        } else continue;
        if (r.width && r.right > far) { far = r.right; who = n; }
      }
    };
    visit(el);
    return [far, who];
  };
  const bad = [], doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) bad.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
  for (const el of document.body.querySelectorAll('*')) {
    if (!shown(el) || underSrOnly(el) || graphic(el) || scrolls(el) || el.scrollWidth <= el.clientWidth + 1) continue;
    const [far, who] = farthest(el);
    const right = el.getBoundingClientRect().left + el.clientLeft + el.clientWidth;
    if (far > right + 1) {
      const what = who.nodeType === Node.TEXT_NODE ? who.parentElement : who;
      bad.push(`${name(el)} (overflow-x ${style(el).overflowX}): ${name(what)} ends ${Math.round(far - right)}px past its edge: ` +
               JSON.stringify((who.textContent || '').trim().slice(0, 60)));
    }
  }
  return bad;
}"""

def assert_fits(v, name, width):
    "Long code lines, equations, tables and figures fit their column or scroll inside it."
    bad = v.page.evaluate(OVERFLOW_JS)
    assert not bad, f"{name} at {width}px: " + '\n  '.join(bad[:10])
    for img in v.page.locator('article img').all():
        w = img.evaluate("i => [i.getBoundingClientRect().width, i.parentElement.getBoundingClientRect().width]")
        assert w[0] <= w[1] + 1, f"{name} at {width}px: figure {img.get_attribute('src')} wider than its column: {w}"

def test_site_has_every_chapter():
    names = chapters()
    order = [re.sub(r'^\d+[a-z]?_', '', p.stem) for p in sorted((root/'nbs').glob('[0-9]*.ipynb'))]
    assert names[:len(order) + 1] == ['index'] + order, names
    assert 'api' in names

@pytest.mark.parametrize('name', chapters() if (site/'index.html').exists() else ['index'])
def test_page_loads_offline_without_errors(visit, name):
    v = visit(f'{name}.html')
    assert not v.external, f"{name}: requests leaving the machine: {v.external}"
    assert not v.problems, f"{name}: {v.problems}"
    text = v.page.evaluate("() => { const a = document.querySelector('article').cloneNode(true);"
                           " a.querySelectorAll('pre, code').forEach(e => e.remove()); return a.innerText; }")
    assert '$$' not in text, f"{name}: raw $$ left in the page"
    math = v.page.locator('article .math').count()
    if math: assert v.page.locator('article .math mjx-container').count() == math, f"{name}: math not typeset"
    for img in v.page.locator('article img').all():
        assert img.evaluate('i => i.complete && i.naturalWidth > 0'), f"{name}: image did not load: {img.get_attribute('src')}"
    assert_fits(v, name, 1280)

@pytest.mark.parametrize('name', chapters() if (site/'index.html').exists() else ['index'])
def test_fits_a_phone(visit, name):
    "At a phone's 390 px (the desktop's 1280 px: test_page_loads_offline_without_errors) nothing is cut off or spills out."
    assert_fits(visit(f'{name}.html', 390), name, 390)

def test_favicon(visit, server):
    "The page's icon link and /favicon.ico (which browsers ask for on their own) are both served."
    v = visit('index.html')
    icons = v.page.locator('link[rel~="icon"]').evaluate_all('ls => ls.map(l => l.href)')
    assert icons, "no icon link in the page head"
    for url in icons + [f'{server}/favicon.ico']:
        r = v.page.request.get(url)
        assert r.status == 200 and r.body(), f"{url}: HTTP {r.status}"
    assert v.page.request.get(f'{server}/favicon.ico').body()[:4] == b'\x00\x00\x01\x00'   # an ICO file

@pytest.mark.parametrize('name', chapters() if (site/'index.html').exists() else ['index'])
def test_source_links_only_into_the_repository(name):
    "settings.ini's git_url is the one repository address: unset (or a placeholder), the site has no source links at all."
    repo = _build_docs().repo_url()
    html = (site/f'{name}.html').read_text(encoding='utf-8')
    links = re.findall(r'<a [^>]*href="([^"]*)"', html)
    sources = re.findall(r'<a [^>]*class="[^"]*sourcelink[^"]*"[^>]*href="([^"]*)"|<a [^>]*href="([^"]*)"[^>]*class="[^"]*sourcelink', html)
    sources = [a or b for a, b in sources]
    if not repo: assert not sources, f"{name}: source links without a repository: {sources[:3]}"
    for link in sources: assert link.startswith(repo + '/'), f"{name}: source link outside {repo}: {link}"
    for link in links:
        assert link.strip(), f"{name}: a link with an empty href"
        assert not re.search(r'(^|/)blob/', link) or (repo and link.startswith(repo + '/')), f"{name}: link into an unset repository: {link}"
        assert 'github.com/microtorch/microtorch' not in link, f"{name}: link to the old placeholder repository: {link}"

def test_math_is_rendered(visit):
    v = visit('tensor.html')
    assert v.page.locator('article mjx-container[display="true"]').count() > 0   # $$...$$
    assert v.page.locator('article mjx-container svg').count() > 5              # inline $...$, drawn as SVG

def test_hidden_cells_absent_exported_code_shown(visit):
    v = visit('tensor.html')
    code = '\n'.join(v.page.locator('article div.cell_input pre').all_inner_texts())
    assert 'def backward(' in code and 'class Tensor' in code             # `#| export` cells are shown
    assert '#|' not in code                                              # directives are not
    assert 'nbdev_export' not in code and 'def draw_graph' not in code   # `#| hide` cells are not
    assert 'from nbdev.showdoc import' not in code
    assert v.page.locator('article div.cell_input pre span.k').count() > 10  # highlighted
    assert v.page.locator('article img').count() >= 1                     # the graph figure

def entry(v, name):
    "The show_doc entry (heading) for `name` on the page."
    return v.page.locator('article :is(h3, p.rubric)', has_text=re.compile(rf'^\s*{re.escape(name)}\s*¶?\s*$'))

def test_api_entries(visit):
    "The API page has an entry for every public name of the package and every public Tensor method."
    import microtorch
    v = visit('api.html')
    headings = {re.sub(r'\s*¶\s*$', '', h).strip() for h in v.page.locator('article h3').all_inner_texts()}
    tensor_methods = {f'Tensor.{k}' for k in dir(microtorch.Tensor) if not k.startswith('_')}
    missing = (set(microtorch.__all__) | tensor_methods) - headings
    assert not missing, f"no API entry for {sorted(missing)}"
    for name in ['Tensor.backward', 'Linear', 'cross_entropy']: assert entry(v, name).count() == 1, name
    sig = entry(v, 'Tensor.backward').first.evaluate("h => h.nextElementSibling.innerText")
    assert 'def backward(' in sig, sig

@pytest.mark.parametrize('page,name', [('nn.html', 'Linear'), ('softmax.html', 'cross_entropy')])
def test_chapter_show_doc(visit, page, name):
    assert entry(visit(page), name).count() >= 1, f"no show_doc entry for {name} on {page}"

def test_mnist_loss_plot(visit):
    v = visit('mnist.html')
    imgs = v.page.locator('article img')
    assert imgs.count() >= 1, "no figure on the MNIST page"
    assert all(i.evaluate('i => i.naturalWidth > 0') for i in imgs.all())
    imgs.last.scroll_into_view_if_needed()
    shots.mkdir(exist_ok=True)
    v.page.screenshot(path=str(shots/'mnist.png'))

def test_search_finds_softmax(visit):
    v = visit('search.html?q=softmax')
    v.page.wait_for_selector('#search-results ul.search li', timeout=15000)
    links = v.page.locator('#search-results ul.search li a').evaluate_all('as => as.map(a => a.getAttribute("href"))')
    assert any(l.startswith('softmax.html') for l in links), links

def test_screenshots(visit):
    shots.mkdir(exist_ok=True)
    for name in ['index', 'tensor']:
        v = visit(f'{name}.html')
        v.page.screenshot(path=str(shots/f'{name}.png'))
        assert (shots/f'{name}.png').stat().st_size > 10_000
    v.page.locator('article img').first.scroll_into_view_if_needed()
    v.page.screenshot(path=str(shots/'tensor-figure.png'))
