"""App start-to-answer benchmark: seconds from starting `voila bears.ipynb` to a classified
upload in headless chromium (cold: a new server and kernel each run), then the same for a
second visitor of the running server.

    .venv/bin/python bench/app.py [runs]     # prints JSON; goal: <= 4 s
"""
import json
import statistics
import sys
import time
from pathlib import Path

from bear_classifier.browser import ROOT, browser, classify_file, open_app, serve


def one_run(chromium, photo: Path) -> dict:
    t0 = time.perf_counter()
    with serve("voila") as server:
        url = server.url
        t_server = time.perf_counter() - t0
        page = chromium.new_page()
        open_app(page, url)
        t_ready = time.perf_counter() - t0
        answer = classify_file(page, photo)
        t_answer = time.perf_counter() - t0
        page.close()
        t1 = time.perf_counter()  # a second visitor, served by the kernel Voila preheated meanwhile
        page = chromium.new_page()
        open_app(page, url)
        classify_file(page, photo)
        t_second = time.perf_counter() - t1
        page.close()
    return {"server_up_s": round(t_server, 2), "app_ready_s": round(t_ready, 2), "answer_s": round(t_answer, 2),
            "second_visitor_answer_s": round(t_second, 2), "answer": answer}


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    photo = sorted((ROOT.parent / "shared/data/bears-test/grizzly").glob("*.jpg"))[0]
    with browser() as chromium:
        results = [one_run(chromium, photo) for _ in range(runs)]
    median = statistics.median(r["answer_s"] for r in results)
    second = statistics.median(r["second_visitor_answer_s"] for r in results)
    print(json.dumps({"runs": results, "median_answer_s": median, "median_second_visitor_answer_s": second,
                      "goal_s": 4, "meets_goal": median <= 4}, indent=1))


if __name__ == "__main__":
    main()
