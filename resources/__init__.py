"""The bundled model, shipped as package data.

This folder is the repository's ``resources/``; setup.py maps it into wheels as the package
``trainer.resources``, so ``importlib.resources.files("trainer.resources")`` finds the model
in a wheel, an editable install and a PyInstaller bundle alike (see
``trainer.inference.bundled.resources_dir``)."""
