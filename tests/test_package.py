"The installed package: imports with numpy alone, version matches settings.ini."
import configparser, subprocess, sys, venv
from pathlib import Path
import pytest
import microtorch as mt

root = Path(__file__).resolve().parent.parent

def test_version_matches_settings():
    cfg = configparser.ConfigParser(); cfg.read(root/'settings.ini')
    assert mt.__version__ == cfg['DEFAULT']['version']

BLOCK_OPTIONAL = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in {'fastcore', 'nbdev', 'matplotlib', 'torch', 'tqdm', 'IPython'}:
            raise ImportError(f'{name} must not be imported by microtorch')
sys.meta_path.insert(0, Block())
import microtorch as mt
import microtorch.nn.functional as F
import microtorch.optim.lr_scheduler
from microtorch.utils.data import DataLoader, TensorDataset
from microtorch.testing import gradcheck, check_op
x = mt.Tensor([[1., 2.], [3., 4.]], requires_grad=True)
(x * x).sum().backward()
assert isinstance(x.grad, mt.Tensor) and (x.grad.data == 2 * x.data).all()
assert F.cross_entropy(x, mt.tensor([0, 1])).shape == ()
assert gradcheck(lambda t: t.tanh(), x)
print('ok')
"""

def test_import_needs_numpy_only():
    out = subprocess.run([sys.executable, '-c', BLOCK_OPTIONAL], capture_output=True, text=True, cwd=root/'tests')
    assert out.returncode == 0 and out.stdout.strip() == 'ok', out.stderr

@pytest.mark.slow
def test_pip_install_in_fresh_venv(tmp_path):
    "`pip install .` into an empty venv pulls numpy only, and the package works there."
    venv.create(tmp_path/'env', with_pip=True)
    py = tmp_path/'env'/'bin'/'python'
    subprocess.run([py, '-m', 'pip', 'install', '--quiet', str(root)], check=True, cwd=tmp_path)
    listed = subprocess.run([py, '-m', 'pip', 'list', '--format=freeze'], capture_output=True, text=True).stdout
    names = {l.split('==')[0].lower() for l in listed.split()}
    assert names - {'pip', 'setuptools', 'wheel'} == {'microtorch', 'numpy'}, names
    out = subprocess.run([py, '-c', 'import microtorch as mt; print((mt.Tensor([2.]) * 3).item())'],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == '6.0', out.stderr
