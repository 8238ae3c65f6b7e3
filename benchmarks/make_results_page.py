"""Write docs/results.md from the benchmark results saved in benchmarks/results/*.json.

    python benchmarks/make_results_page.py            # rewrite docs/results.md
    python benchmarks/make_results_page.py --check    # exit 1 when docs/results.md is stale

Every measured figure on the page is read from a json file that a benchmark
script saved (named under each heading); figures that are not ours (the
published anchors, htm.core's timings) are marked as such. The tables of
bench_vision, bench_learning_curve and bench_saccades are their own scripts'
``markdown`` functions applied to the saved json, so the page and the scripts'
``.md`` files agree; the speed benchmarks, which build their tables inside
``main``, are rendered here, and any other json file (``layers.json`` ...) as a
table of its values. A benchmark whose json is missing is left out, with a line
saying so.
"""

import argparse
import importlib.util
import json
import os
import re
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PAGE = os.path.join(os.path.dirname(HERE), "docs", "results.md")
# The page lives in docs/: paths from it to the results' pictures.
FROM_DOCS = "../benchmarks/results/"

INTRO = """\
# Benchmark results

This page is generated: `python benchmarks/make_results_page.py` writes it from
the json files that the benchmark scripts save in `benchmarks/results/`, and
every measured figure on it comes from one of them (named under each heading).
Figures marked *published* are other people's published results, shown for
comparison; they were not measured here. To update the page, rerun a benchmark
(see the README's *Benchmarks* section) and then this script; `--check` tells
whether the page is stale.
"""


def _script(name):
    """A benchmark script as a module (for its markdown function and constants)."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load(results, name):
    path = os.path.join(results, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _nested(markdown, results, levels=1):
    """A script's markdown page as a part of this one: no title, headings ``levels``
    deeper, pictures found from docs/ (and left out when the file is missing)."""
    lines = markdown.strip("\n").split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out = []
    for line in lines:
        if line.startswith("#"):
            line = "#" * levels + line
        picture = re.fullmatch(r"!\[(.*)\]\(([^/()]+\.png)\)", line.strip())
        if picture:
            if not os.path.exists(os.path.join(results, picture.group(2))):
                continue
            line = f"![{picture.group(1)}]({FROM_DOCS}{picture.group(2)})"
        out.append(line)
    return "\n".join(out).strip("\n")


def _source(*names):
    return "Source: " + ", ".join(f"`benchmarks/results/{n}`" for n in names) + "."


def _missing(name, command):
    return f"No saved results (`benchmarks/results/{name}`): run `{command}`."


def section_vision(results):
    L = ["## Against CNN-free baselines (`bench_vision.py`)", ""]
    bench = _script("bench_vision")
    found = False
    for name, quick, title in (("vision.json", False, "Full run"),
                               ("vision_quick.json", True, "Quick run (subsets)")):
        res = _load(results, name)
        if res is None:
            continue
        found = True
        L += [f"### {title}", "", _source(name), "", _nested(bench.markdown(res, quick),
                                                             results, levels=2), ""]
    if not found:
        L += [_missing("vision.json", "python benchmarks/bench_vision.py"), ""]
    return L


def section_learning_curve(results):
    L = ["## Learning curve on Fashion-MNIST (`bench_learning_curve.py`)", ""]
    for stem in ("learning_curve", "learning_curve_quick"):
        res = _load(results, stem + ".json")
        if res is not None:
            md = _script("bench_learning_curve").markdown(res, stem)
            return L + [_source(stem + ".json"), "", _nested(md, results), ""]
    return L + [_missing("learning_curve.json", "python benchmarks/bench_learning_curve.py"), ""]


def section_saccades(results):
    L = ["## Saccade pipelines on Fashion-MNIST (`bench_saccades.py`)", ""]
    for name, quick in (("saccades.json", False), ("saccades_quick.json", True)):
        res = _load(results, name)
        if res is not None:
            md = _script("bench_saccades").markdown(res, types.SimpleNamespace(quick=quick))
            if quick:
                md = md.replace("saccades_glimpses.png", "saccades_glimpses_quick.png")
            md = md.replace("## Published anchors\n",
                            "## Published anchors\n\nPublished figures, not measured here.\n")
            return L + [_source(name), "", _nested(md, results), ""]
    return L + [_missing("saccades.json", "python benchmarks/bench_saccades.py"), ""]


def section_sensorimotor(results):
    L = ["## Sensorimotor recognition on Fashion-MNIST (`bench_sensorimotor.py`)", ""]
    for name in ("sensorimotor.json", "sensorimotor_quick.json"):
        res = _load(results, name)
        if res is not None:
            md = _script("bench_sensorimotor").markdown(res)
            return L + [_source(name), "", _nested(md, results), ""]
    return L + [_missing("sensorimotor.json", "python benchmarks/bench_sensorimotor.py"), ""]


def _met(value, target):
    return "yes" if value <= target else "NO"


def section_patch_speed(results):
    L = ["## PatchSpatialPooler speed (`bench_patch_speed.py`)", ""]
    res = _load(results, "patch_speed.json")
    full = _load(results, "patch_speed_full.json")
    if res is None and full is None:
        return L + [_missing("patch_speed.json", "python benchmarks/bench_patch_speed.py"), ""]
    if res is not None:
        two, one = res["n_jobs_2"], res["n_jobs_1"]
        L += [_source("patch_speed.json"), "",
              f"The four patch poolers of the Fashion-MNIST pipeline, fit on {res['n_fit']} "
              f"training images, transforming {res['n_transform']} test images; medians of "
              f"{res['repeats']} runs.", "",
              "| transform | us/image | CPU us/image (all threads) | skhtm before the fused "
              "kernel | target | met |", "|---|---|---|---|---|---|",
              f"| n_jobs=2 | {two['us_per_image']:.0f} | {two['cpu_us_per_image']:.0f} | "
              f"~{res['before_us']:,} | <= {res['target_us']} | "
              f"{_met(two['us_per_image'], res['target_us'])} |",
              f"| n_jobs=1 | {one['us_per_image']:.0f} | {one['cpu_us_per_image']:.0f} | "
              f"~{res['before_us']:,} | - | - |", "",
              f"Runs (n_jobs=2): {two['runs']} us/image, load average {two['loadavg'][-1]}. "
              f"Fit {res['fit_s']:.1f} s; first call {res['first_call_s']:.2f} s "
              f"({res['cache']}); traced peak of one pooler's transform "
              f"{res['traced_peak_one_transform_mib']:.0f} MiB (its output "
              f"{res['output_mib']:.0f} MiB); process peak RSS {res['max_rss_mib']:.0f} MiB.", ""]
    if full is not None:
        f = full["full"]
        L += [_source("patch_speed_full.json"), "",
              f"The whole four-pooler pipeline on {f['n_train']:,} training images "
              f"({f['command']}): test accuracy {f['accuracy']:.2%}, fit "
              f"{f['fit_s'] / 60:.1f} min, predict {f['predict_us']:.0f} us/image, peak RSS "
              f"{f['max_rss_mib']:,.0f} MiB, load average {f['loadavg']}.", ""]
    return L


def section_sp_speed(results):
    L = ["## Spatial Pooler speed (`bench_sp_speed.py`)", ""]
    for name in ("sp_speed.json", "sp_speed_quick.json"):
        res = _load(results, name)
        if res is not None:
            break
    else:
        return L + [_missing("sp_speed.json", "python benchmarks/bench_sp_speed.py"), ""]
    script = _script("bench_sp_speed")
    htm, targets = script.HTM_CORE, script.TARGETS
    rows = [("exact online fit (batch_size=1), us/sample", "online_fit_us", htm["learn_us"]),
            ("mini-batch fit, us/sample", "minibatch_fit_us", "-"),
            ("transform, us/sample, one thread", "transform_us_n_jobs_1", htm["infer_us"]),
            ("transform, us/sample, two threads", "transform_us_n_jobs_2", "-"),
            ("stream: one-sample partial_fit call / sample inside one call", "stream_ratio",
             "-")]
    L += [_source(name), "",
          "At the size of htm.core's MNIST example (784 inputs, 6,241 columns). The htm.core "
          "column is not measured by this benchmark: the script's reference figures "
          "(htm.core timed separately on the same kind of machine, and the issue's table).",
          "", "| measure | skhtm | htm.core (reference) | target | met |",
          "|---|---|---|---|---|"]
    for label, key, ref in rows:
        target = targets.get(key)
        L.append(f"| {label} | {res[key]:.2f} | {ref} | "
                 f"{'-' if target is None else f'<= {target}'} | "
                 f"{'-' if target is None else _met(res[key], target)} |")
    L += ["", f"Medians of {res['repeats']} runs; first calls compile in "
              f"{res['compile_s']:.1f} s ({res['first_call_cached_s']:.2f} s from the cache); "
              f"process peak RSS {res['max_rss_mib']:.0f} MiB; load average "
              f"{[round(v, 2) for v in res['loadavg']['transform_us_n_jobs_1']]}.", ""]
    return L


def section_tm_speed(results):
    L = ["## Temporal Memory speed (`bench_tm_speed.py`)", ""]
    for name in ("tm_speed.json", "tm_speed_quick.json"):
        res = _load(results, name)
        if res is not None:
            break
    else:
        return L + [_missing("tm_speed.json", "python benchmarks/bench_tm_speed.py"), ""]
    htm, targets = res["htm_core"], res["targets"]
    rows = [("learning, us/step", "learn_us_per_step", htm["learn_us"], "learn_us"),
            ("learning, us/step, once learned", "learned_us_per_step", htm["learned_us"],
             None),
            ("streaming, us/step (one step per partial_fit call)", "stream_us_per_step",
             htm["stream_us"], "stream_us"),
            ("streaming / a step inside one long call", "stream_ratio", "", "stream_ratio"),
            ("inference, us/sequence-step, n_jobs=1", "infer_us_per_sequence_step_n_jobs_1",
             htm["infer_us"], "infer_us"),
            ("inference, us/sequence-step, n_jobs=2", "infer_us_per_sequence_step_n_jobs_2",
             htm["infer_us"], "infer_us")]
    L += [_source(name), "", f"Workload: {res['workload']}. The htm.core column is the "
          "script's reference figures (htm.core timed separately on the same kind of "
          "machine), not measured by this benchmark.", "",
          "| measure | skhtm | htm.core (reference) | target | met |", "|---|---|---|---|---|"]
    for label, key, ref, target_key in rows:
        target = targets.get(target_key) if target_key else None
        L.append(f"| {label} | {res[key]:.2f} | {ref} | "
                 f"{'-' if target is None else f'<= {target}'} | "
                 f"{'-' if target is None else _met(res[key], target)} |")
    L += ["", f"After learning: {res['segments']} segments, {res['synapses']} synapses "
              f"(htm.core: {htm['segments']}, {htm['synapses']}); model {res['model_mib']} MiB; "
              f"process peak RSS {res['max_rss_mib']} MiB; medians of {res['repeats']} runs, "
              f"load average {res['load_average_before'][0]} before, "
              f"{res['load_average_after'][0]} after.", ""]
    return L


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value).replace("|", "\\|")


def section_generic(results, name):
    """Any other saved json: the markdown its script wrote beside it (from the same
    run), else a table of its values; and its picture, if the script saved one."""
    res = _load(results, name)
    stem = name[:-len(".json")]
    title = stem.replace("_", " ")
    L = [f"## {title[:1].upper()}{title[1:]}", ""]
    md_path = os.path.join(results, stem + ".md")
    if os.path.exists(md_path):
        with open(md_path) as f:
            L += [_source(name, stem + ".md"), "", _nested(f.read(), results, levels=1), ""]
    else:
        L += [_source(name) + " Shown as saved, key by key.", "", "| key | value |",
              "|---|---|"]
        L += [f"| {key} | {_cell(value)} |" for key, value in _flatten(res)]
        L.append("")
    if os.path.exists(os.path.join(results, stem + ".png")) and not any(
            f"{stem}.png" in line for line in L):
        L += [f"![{title}]({FROM_DOCS}{stem}.png)", ""]
    return L


KNOWN = {"vision.json", "vision_quick.json", "learning_curve.json", "learning_curve_quick.json",
         "saccades.json", "saccades_quick.json", "patch_speed.json", "patch_speed_full.json",
         "sp_speed.json", "sp_speed_quick.json", "tm_speed.json", "tm_speed_quick.json",
         "sensorimotor.json", "sensorimotor_quick.json"}


def make_page(results=RESULTS):
    """The page's markdown, from the json files in ``results``."""
    others = sorted(n for n in os.listdir(results) if n.endswith(".json") and n not in KNOWN
                    and not n.endswith("_quick.json"))
    # layers.json (the layered pipelines' benchmark) right after the learning curve.
    others.sort(key=lambda n: n != "layers.json")
    L = [INTRO]
    L += section_vision(results)
    L += section_learning_curve(results)
    for name in others:
        L += section_generic(results, name)
    for section in (section_sensorimotor, section_saccades, section_patch_speed,
                    section_sp_speed, section_tm_speed):
        L += section(results)
    return "\n".join(L).rstrip("\n") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the page differs from the saved results")
    parser.add_argument("--results-dir", default=RESULTS)
    parser.add_argument("--out", default=PAGE)
    args = parser.parse_args(argv)
    page = make_page(args.results_dir)
    if args.check:
        current = open(args.out).read() if os.path.exists(args.out) else ""
        if current != page:
            print(f"{args.out} is stale: run python benchmarks/make_results_page.py",
                  file=sys.stderr)
            return 1
        return 0
    with open(args.out, "w") as f:
        f.write(page)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
