"""``fer-desktop`` itself (fer_desktop.__main__.main, the same arguments) with a counter on the
window's shown results, printed as one JSON line on stderr at exit: how many frames the live
view showed, how many with a model's result, faces per result, and the peak RSS. For
bench/memory.py, which needs to know that the app was really working while it was measured.

    QT_QPA_PLATFORM=offscreen python bench/app_probe.py --video clip.avi --play --quit-after-ms 20000
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PREFIX = "app_probe: "


def main(argv: list[str]) -> int:
    from fer_desktop._qt import main_window
    from fer_desktop.__main__ import main as fer_desktop_main

    counts = {"shown": 0, "with_model": 0, "faces": 0, "first_model_s": None}
    started = time.perf_counter()
    original_init = main_window.MainWindow.__init__

    def counting_init(self, *args, **kwargs) -> None:
        original_init(self, *args, **kwargs)

        def count(result) -> None:
            counts["shown"] += 1
            if result.model_name is not None:
                counts["with_model"] += 1
                counts["faces"] += len(result.faces)
                if counts["first_model_s"] is None:
                    counts["first_model_s"] = time.perf_counter() - started
        self.ctx.resultShown.connect(count)

    main_window.MainWindow.__init__ = counting_init
    try:
        code = fer_desktop_main(argv)
    finally:
        seconds = time.perf_counter() - started
        first = counts["first_model_s"]
        report = {**counts, "seconds": round(seconds, 2),
                  "results_per_s_after_model": round(counts["with_model"] / (seconds - first), 2)
                  if first is not None and seconds > first else None,
                  "faces_per_result": round(counts["faces"] / counts["with_model"], 2) if counts["with_model"] else None,
                  "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "torch_imported": "torch" in sys.modules}
        print(PREFIX + json.dumps(report), file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
