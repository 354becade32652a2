"""Package layout that pyproject.toml cannot express: the top-level ``resources/`` folder (the
bundled model, the BlazeFace detector's model files) travels in wheels as the package
``trainer.resources``. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace discovery: data-only folders (trainer/configs) are packages too.
    packages=find_namespace_packages(include=["trainer*", "fer_desktop*"], exclude=["*__pycache__*"])
    + ["trainer.resources", "trainer.resources.models", "trainer.resources.detectors",
       "trainer.resources.detectors.blazeface"],
    package_dir={"trainer.resources": "resources"},
)
