"Fail when the package, the notebooks or README.md are out of sync with the notebooks (the source)."
import filecmp, shutil, subprocess, sys, tempfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def snapshot(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
    return dest

def differences(cmp: filecmp.dircmp) -> list:
    found = [f"{cmp.left}/{f}" for f in cmp.diff_files + cmp.left_only + cmp.right_only]
    for sub in cmp.subdirs.values(): found += differences(sub)
    return found

def check(folder: str, command: list, fix: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        before = snapshot(root/folder, Path(tmp)/folder)
        subprocess.run([str(Path(sys.executable).parent/command[0]), *command[1:]], cwd=root, check=True, capture_output=True)
        changed = differences(filecmp.dircmp(before, root/folder, ignore=['__pycache__', '.ipynb_checkpoints']))
    if changed: print(f"{' '.join(command)} changed {folder}/: {changed}\n  fix: {fix}")
    return not changed

ok = check('microtorch', ['nbdev_export'], "edit the notebooks, run nbdev_export, commit microtorch/")
ok &= check('nbs', ['nbdev_clean'], "run nbdev_clean and commit the cleaned notebooks")
readme = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=root)
ok &= readme.returncode == 0
print("in sync" if ok else "out of sync")
sys.exit(0 if ok else 1)
