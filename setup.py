"""Build hook: the compiled copies of the event loops (everything else is in pyproject.toml).

Three loops have a compiled copy, each a plain Python module (the reference) with a Cython
declarations file beside it:

* the simulator's event loop, ``helix/sim/loop.py`` + ``loop.pxd`` -> ``helix.sim._loop_c``;
* the served estimate's admission replay, ``helix/placement/replay_loop.py`` + ``replay_loop.pxd``
  -> ``helix.placement._replay_c``;
* the served estimate's decode replay, ``helix/placement/decode_loop.py`` + ``decode_loop.pxd``
  -> ``helix.placement._decode_c``.

Each pair is copied to ``build/cython/<package>/`` as ``<ext>.py``/``<ext>.pxd`` with the sha256 of
the sources appended, and compiled with Cython into the extension. The two replays share the event
heap, ``helix/placement/event_heap.py`` + ``.pxd``: its code below its line ``PASTE`` is pasted in
place of the loop's line ``heap_push, heap_drop = event_heap.bound_to(globals())`` (what the Python
loop runs instead) and its declarations appended to the loop's, so each compiled loop has its own
heap, called directly, as if written there; the hash covers the shared sources too. The code using
a loop takes the extension only when its hash matches the sources next to it (a stale build is
ignored), so editing a loop, or what it shares, never runs old compiled code. The extensions are
optional: without Cython or a C compiler the install goes on and the Python loops run (same
numbers, slower).

Developers with a checkout on PYTHONPATH: ``python setup.py build_ext --inplace`` after editing a
loop, its .pxd or what it shares (``pip install -e .`` does the same).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
GEN = HERE / "build" / "cython"  # Cython finds a .pxd by the module's full name: GEN/helix/sim/_loop_c.pxd

# the loops use no negative index and no index outside their arrays (the Python reference would raise)
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "boundscheck": False, "wraparound": False}
# (package, source module, extension module, extra directives, shared modules pasted in)
LOOPS = (
    ("helix/sim", "loop", "_loop_c", {}, ()),
    # every memoryview attribute is set in __init__
    ("helix/placement", "replay_loop", "_replay_c", {"initializedcheck": False}, ("event_heap",)),
    ("helix/placement", "decode_loop", "_decode_c", {"initializedcheck": False}, ("event_heap",)),
)
PASTE = b"\n# ---- setup.py pastes what follows into the compiled loops\n"  # in a shared module


def _paste(src: bytes, pxd: bytes, shared: bytes, shared_pxd: bytes, name: str) -> tuple[bytes, bytes]:
    """The loop's source and declarations with the shared module ``name``'s code (below ``PASTE``) in
    place of the loop's one line binding its functions (``... = <name>.bound_to(globals())``), and
    its declarations appended."""
    bind = f"= {name}.bound_to(globals())".encode()
    lines = src.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.rstrip().endswith(bind)]
    if len(at) != 1 or shared.count(PASTE) != 1:
        raise SystemExit(f"setup.py: {name}: want one line ending {bind.decode()!r} and one paste mark")
    lines[at[0]] = shared.partition(PASTE)[2]
    return b"".join(lines), pxd + b"\n\n" + shared_pxd


def _generate(package: str, source: str, ext: str, shared: tuple[str, ...]) -> str:
    """Write build/cython/<package>/<ext>.{py,pxd}; return the .py path (relative, as setuptools wants)."""
    src_dir = HERE / package
    src, pxd = (src_dir / f"{source}.py").read_bytes(), (src_dir / f"{source}.pxd").read_bytes()
    h = hashlib.sha256(src + pxd)
    for name in shared:  # hashed in this order by the code choosing the copy (helix.compiled.source_hash)
        code, decl = (src_dir / f"{name}.py").read_bytes(), (src_dir / f"{name}.pxd").read_bytes()
        h.update(code + decl)
        src, pxd = _paste(src, pxd, code, decl, name)
    digest = h.hexdigest()
    sources = " + ".join(f"{n}.py + {n}.pxd" for n in (source, *shared))
    pkg = GEN / package
    pkg.mkdir(parents=True, exist_ok=True)
    parts = Path(package).parts
    for depth in range(1, len(parts) + 1):
        (GEN.joinpath(*parts[:depth]) / "__init__.py").touch()
    py = pkg / f"{ext}.py"
    body = (
        src
        + (
            f'\n\nSOURCE_SHA256 = "{digest}"  # of {package}/{sources} (added by setup.py)\n'
            f"# Cython directives: {sorted(DIRECTIVES.items())}\n"
        ).encode()
    )
    for path, data in ((py, body), (pkg / f"{ext}.pxd", pxd)):
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
    return str(py.relative_to(HERE))


class OptionalBuildExt(build_ext):
    """A failed compile (no C compiler) leaves the pure-Python loops in use, never a failed install."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - an optional speed-up
            print(f"warning: compiled loops not built ({exc}); the Python loops run")


def _extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython is not installed; compiled loops not built, the Python loops run")
        return []
    out = []
    for package, source, ext, extra, shared in LOOPS:
        name = ".".join((*Path(package).parts, ext))
        extension = Extension(
            name,
            [_generate(package, source, ext, shared)],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
        out += cythonize(
            [extension], include_path=[str(GEN)], compiler_directives={**DIRECTIVES, **extra}, quiet=True
        )
    return out


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
