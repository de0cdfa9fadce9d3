"""Builds the eligibility criteria splitter with Cython where a C compiler is present (about a quarter faster,
which the FHIR pipeline feels); without Cython or a compiler, trialport runs the same module as pure Python."""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = Path("trialport/mapping/criteria.py")
COPY = Path("build/cython/trialport/mapping/_criteria_compiled.py")


def compiled_criteria() -> list[Extension]:
    """criteria.py compiled as ``trialport.mapping._criteria_compiled``. The copy carries the SHA-256 of the
    text it was built from: criteria.py uses it only while its own text is the same, never stale code."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    source = SOURCE.read_bytes()
    COPY.parent.mkdir(parents=True, exist_ok=True)
    COPY.write_bytes(source + f"\n\nSOURCE_SHA256 = {hashlib.sha256(source).hexdigest()!r}\n".encode())
    extensions = cythonize(
        [Extension("trialport.mapping._criteria_compiled", [str(COPY)])], language_level=3, quiet=True
    )
    for extension in extensions:
        extension.optional = True  # a machine without a C compiler installs the pure Python module
    return extensions


setup(ext_modules=compiled_criteria())
