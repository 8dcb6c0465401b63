"""Build hook: the compiled copy of the simulator's event loop (everything else is in pyproject.toml).

``helix/sim/loop.py`` (plain Python, the reference) and its declarations ``helix/sim/loop.pxd`` are
copied to ``build/cython/helix/sim/`` as ``_loop_c.py``/``_loop_c.pxd`` with the sha256 of the two sources
appended, and compiled with Cython into the extension ``helix.sim._loop_c``. The engine uses the
extension only when its hash matches the sources next to it (a stale build is ignored), so editing
loop.py never runs old compiled code. The extension is optional: without Cython or a C compiler
the install goes on and the simulator runs the Python loop (same numbers, slower).

Developers with a checkout on PYTHONPATH: ``python setup.py build_ext --inplace`` after editing
loop.py or loop.pxd (``pip install -e .`` does the same).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SIM = HERE / "helix" / "sim"
GEN = HERE / "build" / "cython"  # Cython finds the .pxd by the module's full name: GEN/helix/sim/_loop_c.pxd

# loop.py uses no negative index and no index outside its lists (the Python reference would raise)
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "boundscheck": False, "wraparound": False}


def _generate() -> str:
    """Write build/cython/helix/sim/_loop_c.{py,pxd}; return the .py path (relative, as setuptools wants)."""
    src, pxd = (SIM / "loop.py").read_bytes(), (SIM / "loop.pxd").read_bytes()
    digest = hashlib.sha256(src + pxd).hexdigest()
    pkg = GEN / "helix" / "sim"
    pkg.mkdir(parents=True, exist_ok=True)
    for init in (GEN / "helix" / "__init__.py", pkg / "__init__.py"):
        init.touch()
    py = pkg / "_loop_c.py"
    body = (
        src
        + (
            f'\n\nSOURCE_SHA256 = "{digest}"  # of helix/sim/loop.py + loop.pxd (added by setup.py)\n'
            f"# Cython directives: {sorted(DIRECTIVES.items())}\n"
        ).encode()
    )
    for path, data in ((py, body), (pkg / "_loop_c.pxd", pxd)):
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return str(py.relative_to(HERE))


class OptionalBuildExt(build_ext):
    """A failed compile (no C compiler) leaves the pure-Python loop in use, never a failed install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - an optional speed-up
            print(f"warning: helix.sim._loop_c not built ({exc}); the simulator runs its Python loop")


def _extensions() -> list:
    ext = Extension(
        "helix.sim._loop_c", [_generate()], extra_compile_args=["-O2", "-ffp-contract=off"], optional=True
    )
    try:
        from Cython.Build import cythonize
    except ImportError:
        print(
            "warning: Cython is not installed; helix.sim._loop_c not built, "
            "the simulator runs its Python loop"
        )
        return []
    return cythonize([ext], include_path=[str(GEN)], compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
