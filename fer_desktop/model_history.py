"""The models trained in this app, newest first, with their card metrics: a JSON file in the
user's data dir (``models.json``), so the Model menu can list them and the user can go back.
The bundled model is never in it and never overwritten: runs write into their own folders."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

HISTORY_FILE = "models.json"


def history_path() -> Path:
    from trainer.data.relabel import user_data_dir

    return user_data_dir() / HISTORY_FILE


@dataclass
class ModelEntry:
    path: str  # NAME.safetensors
    name: str  # the card's name
    created: float = field(default_factory=time.time)
    base_model: str = ""  # the model it was fine-tuned from
    data: str = ""  # what it was trained on (with which journal)
    metrics: dict[str, float] = field(default_factory=dict)  # set name -> accuracy, from its card
    comparison: dict[str, Any] = field(default_factory=dict)  # set name -> {"old": acc, "new": acc}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelEntry":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def exists(self) -> bool:
        return Path(self.path).is_file() and Path(self.path).with_suffix(".json").is_file()

    def label(self) -> str:
        """'sfew2-retrain · sfew2/Val 51.3% · 2024-05-01 14:02' for a menu."""
        parts = [self.name]
        if self.metrics:
            key, acc = next(iter(self.metrics.items()))
            parts.append(f"{key} {100 * acc:.1f}%")
        parts.append(time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)))
        return " · ".join(parts)


def entry_from_card(path: str | Path, **extra: Any) -> ModelEntry:
    """An entry for a saved model, its accuracies read from its card (JSON only: no torch)."""
    card_path = Path(path).with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    metrics = {k: float(v["accuracy"]) for k, v in (card.get("metrics") or {}).items()
               if isinstance(v, dict) and isinstance(v.get("accuracy"), (int, float))}
    return ModelEntry(path=str(Path(path).with_suffix(".safetensors")), name=str(card.get("name", card_path.stem)),
                      metrics=metrics, **extra)


class ModelHistory:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else history_path()

    def entries(self) -> list[ModelEntry]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        out = []
        for item in data.get("models", []) if isinstance(data, dict) else []:
            try:
                out.append(ModelEntry.from_dict(item))
            except TypeError:
                continue  # a hand-edited line: skip it, keep the rest
        return out

    def add(self, entry: ModelEntry) -> None:
        """Newest first; a model already listed moves to the top with the new details."""
        rest = [e for e in self.entries() if Path(e.path).resolve() != Path(entry.path).resolve()]
        self._write([entry, *rest])

    def remove(self, path: str | Path) -> None:
        self._write([e for e in self.entries() if Path(e.path).resolve() != Path(path).resolve()])

    def _write(self, entries: list[ModelEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"models": [asdict(e) for e in entries]}, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)
