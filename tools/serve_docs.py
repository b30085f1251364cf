"""Serve the docs site on localhost and rebuild it when its sources change: `make serve`
(`python tools/serve_docs.py [--port 8000]`), what `nbdev_preview` does, without Quarto.

The site is built once with tools/build_docs.py, then _docs/ is served over HTTP on 127.0.0.1.
Every second the modification times of nbs/, docs/ and settings.ini are compared with the last
build's; after a change (and a short quiet spell, so a notebook being saved is read whole) the
site is rebuilt in a separate process. Reload the page to see it. A failed build leaves the last
good site in place. Stop with Ctrl-C (or SIGTERM)."""
import argparse, functools, http.server, signal, subprocess, sys, threading, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
site = root/'_docs'
WATCHED = [root/'nbs', root/'docs', root/'settings.ini', root/'tools'/'build_docs.py']
SKIP = {'.ipynb_checkpoints', '__pycache__'}

def snapshot() -> dict:
    "path -> (mtime, size) of every watched file."
    files = {}
    for top in WATCHED:
        for f in ([top] if top.is_file() else top.rglob('*') if top.is_dir() else []):
            if f.is_file() and not SKIP & set(f.relative_to(root).parts):
                st = f.stat()
                files[f] = (st.st_mtime_ns, st.st_size)
    return files

def build() -> bool:
    start = time.monotonic()
    ok = subprocess.run([sys.executable, str(root/'tools'/'build_docs.py')], cwd=root).returncode == 0
    print(f"serve_docs: {'rebuilt' if ok else 'build FAILED (serving the last good site)'} in {time.monotonic() - start:.0f}s",
          flush=True)
    return ok

def serve(host: str, port: int) -> http.server.ThreadingHTTPServer:
    quiet = type('Quiet', (http.server.SimpleHTTPRequestHandler,), {'log_message': lambda *a: None})
    httpd = http.server.ThreadingHTTPServer((host, port), functools.partial(quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd

def changed(before: dict, after: dict) -> list:
    return sorted(str(f.relative_to(root)) for f in before.keys() | after.keys() if before.get(f) != after.get(f))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--port', type=int, default=8000, help="port on 127.0.0.1 (default %(default)s)")
    p.add_argument('--host', default='127.0.0.1', help="address to listen on (default %(default)s: this machine only)")
    p.add_argument('--interval', type=float, default=1.0, help="seconds between checks for changes (default %(default)s)")
    p.add_argument('--no-build', action='store_true', help="serve the _docs/ there is, build only after a change")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # `kill` stops it like Ctrl-C does
    seen = snapshot()
    if not args.no_build or not (site/'index.html').exists():
        if not build() and not (site/'index.html').exists(): sys.exit("serve_docs: no site to serve (the build failed)")
    httpd = serve(args.host, args.port)
    print(f"serve_docs: http://{args.host}:{httpd.server_port}/ (watching nbs/, docs/, settings.ini; Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(args.interval)
            now = snapshot()
            if now == seen: continue
            time.sleep(args.interval)   # let a save finish
            if snapshot() != now: continue
            print(f"serve_docs: changed: {', '.join(changed(seen, now)[:5])}", flush=True)
            seen = now   # taken before the build: a change made during it triggers the next one
            build()
    except KeyboardInterrupt: print("\nserve_docs: stopped")
    finally: httpd.shutdown()

if __name__ == '__main__': main()
