"""---
title: API reference
description: Every public name of microtorch, chapter by chapter, with its signature and docstring.
---"""
# nbdev's docs processors run this file (`nbdev_docs`, and `make docs` without Quarto):
# what it prints becomes the page api.md. It is generated from the package, so it never goes stale.
import importlib, inspect, json, re
from nbdev.config import get_config
from nbdev.showdoc import show_doc

def chapters():
    "(notebook file, module, title) of every chapter that exports a module, in book order."
    for nb in sorted(get_config().nbs_path.glob('[0-9]*.ipynb')):
        cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
        code = [''.join(c['source']) for c in cells if c['cell_type'] == 'code']
        md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
        mod = next((m[1] for s in code if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', s, re.M))), None)
        title = next((m[1] for s in md if (m := re.match(r'#\s+(.+)', s))), nb.stem)
        if mod: yield nb.name, mod, title

def doc_md(obj, name=None) -> str:
    "show_doc's markdown for `obj`, with its source line and no borrowed docstring."
    md = show_doc(obj, name=name)._repr_markdown_()
    try: md = md.replace('#LNone)', f'#L{inspect.getsourcelines(obj)[1]})')  # nbdev finds no line for full names
    except (OSError, TypeError): md = re.sub(r'\[source\]\(\S+#LNone\)\{[^}]*\}\n\n', '', md)
    if not getattr(obj, '__doc__', None): md = md.replace('\n\n*Call self as a function.*', '')
    return md

def member_doc(cls, name, attr) -> str:
    "show_doc markdown for a method or property of `cls`."
    full = f'{cls.__name__}.{name}'
    seen.add(full)
    if not isinstance(attr, property): return doc_md(getattr(attr, '__func__', attr), full)
    doc = inspect.getdoc(attr.fget)
    return f'---\n\n### {full}\n\n```python\n{full}  # property\n```' + (f'\n\n*{doc}*' if doc else '')

def defined_in(attr, module: str) -> bool:
    f = attr.fget if isinstance(attr, property) else getattr(attr, '__func__', attr)
    return getattr(f, '__module__', None) == module

def patched_by(mod, name: str, attr):
    "The method or property `mod` patched onto a class as `name`: `patch_to` leaves its function in `mod` too."
    f = vars(mod).get(name)
    if not callable(f) or getattr(f, '__module__', None) != mod.__name__: return None
    return property(f) if isinstance(attr, property) else f

def members(classes, mod):
    "Public methods and properties of `classes` that `mod` defines or patches on (later chapters patch Tensor)."
    found = []
    for c in classes:
        for k, v in vars(c).items():
            f = v.fget if isinstance(v, property) else getattr(v, '__func__', v)   # properties, classmethods
            if k.startswith('_') or not callable(f) or (c, k) in documented: continue
            attr = v if defined_in(v, mod.__name__) else patched_by(mod, k, v)
            if attr is not None: documented.add((c, k)); found.append((c, k, attr))
    return found

mods = [(nb, importlib.import_module(f'{get_config().lib_name}.{m}'), t) for nb, m, t in chapters()]
classes = [o for _, m, _ in mods for n in getattr(m, '__all__', []) if inspect.isclass(o := getattr(m, n))]
shown, documented, seen = set(), set(), set()
for nb, mod, title in mods:
    print(f'## [{title}]({nb})\n\n`{mod.__name__}`\n')
    for name in getattr(mod, '__all__', []):
        obj = getattr(mod, name)
        seen.add(name)
        canonical = getattr(obj, '__name__', name)
        if canonical != name and canonical in mod.__all__:
            print(f'---\n\n### {name}\n\n*Another name for `{canonical}`.*\n'); continue
        if id(obj) in shown: continue
        shown.add(id(obj))
        if callable(obj): print(doc_md(obj, name), '\n')
        else: print(f'---\n\n### {name}\n\n```text\n{name}: {type(obj).__name__}\n```\n')
        if inspect.isclass(obj):
            for c, k, v in members([obj], mod): print(member_doc(c, k, v), '\n')
    own = [c for c in classes if c.__module__ != mod.__name__]
    for c, k, v in members(own, mod): print(member_doc(c, k, v), '\n')

package = importlib.import_module(get_config().lib_name)
rest = sorted((set(package.__all__) | {f'Tensor.{k}' for k in dir(package.Tensor) if not k.startswith('_')}) - seen)
if rest: print('## Other names\n\nTop-level function forms of Tensor methods, dtypes, sub-packages, and the Tensor methods '
              'that the chapters make in loops (dtype casts) or as aliases.\n')
for name in rest:
    obj = getattr(package.Tensor, name[7:]) if name.startswith('Tensor.') else getattr(package, name)
    if inspect.ismodule(obj): print(f'---\n\n### {name}\n\n*The `{obj.__name__}` module.*\n')
    elif callable(obj) and not isinstance(obj, type): print(doc_md(obj, name), '\n')
    else: print(f'---\n\n### {name}\n\n```text\n{name}: {obj!r}\n```\n')
