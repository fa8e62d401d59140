"""COrAL beside its baselines: run or load each method's Table 1 protocol, tabulate R / U / S next to
the paper's Table 1, and read each method's probe map from its probe files.

- ``comparison_config(preset)``: the config every method is compared with (the preset itself).
- ``load_or_run(cfg, method, folder)``: the tidy Table 1 rows of one method: read from
  ``folder/table1.csv`` when it holds every requested seed and was made with this config, else
  ``protocol.run_table1`` (resumable).
- ``comparison_table(rows)``: per method and column, ours (mean, std, seeds) beside the paper's value
  and chance; ``wide_table`` is the same as one row per method, for display.
- ``method_probe_map(rows)``: task x subspace balanced accuracy (the probe map) from the per-subspace
  probe rows that ``coral-lab reproduce`` records for a baseline (redundancy and uniqueness tasks from
  the unbiased pretraining, synergy from the biased one).
- ``paper_pattern(table)``: the qualitative pattern of the paper's Table 1 checked on our numbers.
- ``write_comparison(folders, path)``: the scored rows of every method's ``table1.csv`` in one result
  file (``baselines_table1.csv``) with a provenance sidecar merged from the methods' sidecars; the
  ``baselines`` figure of ``coral_lab.drawing.figures`` (``coral-lab figures``) is drawn from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from coral_lab.config import runs
from coral_lab.evaluation.analysis import TASK_LABELS
from coral_lab.experiments.units import unit_config
from coral_lab.config import RunConfig, get_preset
from coral_lab.evaluation.probe import protocol_rows, summarize, with_protocol
from coral_lab.methods import display_name, get_method, subspaces, with_method
from coral_lab.core.paper import CHANCE, TABLE1_COLUMNS as COLUMNS
from coral_lab.evaluation.protocol import UNITS, check_protocols, run_table1
from coral_lab.config import HELD_OUT, PROTOCOL_LABELS, PROTOCOLS
from coral_lab.config.provenance import save_result

__all__ = ["comparison_config", "load_or_run", "comparison_table", "wide_table", "method_probe_map", "paper_pattern",
           "write_comparison", "merged_device"]

# which pretraining each probe task is read from in the probe map (as Table 1 scores them)
_TASK_UNIT = {"share": "unbiased", "unique1": "unbiased", "unique2": "unbiased", "synergy": "biased"}


def comparison_config(preset: str) -> RunConfig:
    """The config every method is compared with: the preset itself (``with_method`` picks the method).

    Until 2026-12-04 the quick comparison used a reduced budget (3 epochs of 3,200 pairs); with the
    probe on one thread and two units side by side, the five methods' full quick budget takes about
    18 minutes per seed here (docs/baselines.md), so every preset is used as it is.
    """
    return get_preset(preset)


def _unit_configs_match(folder: Path, cfg: RunConfig, seeds: Sequence[int]) -> bool:
    for seed in seeds:
        for train_set in UNITS:
            path = runs.unit_dir(folder, seed, train_set) / runs.CONFIG
            if not path.is_file() or RunConfig.from_json(path).experiment_dict() != unit_config(cfg, seed, train_set).experiment_dict():
                return False
    return True


def load_or_run(
    cfg: RunConfig,
    method: str,
    folder: str | Path,
    *,
    seeds: Sequence[int] = (41,),
    device: str = "auto",
    progress: bool = True,
    probe_subspaces: bool = True,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """The tidy Table 1 rows of ``method`` (with a ``method`` column), loaded or computed.

    Args:
        cfg: the preset's config (``with_method`` selects the method).
        folder: the method's result folder (``table1.csv``, one ``seed<S>-<train_set>/`` per unit).
        seeds: the seeds required; a saved ``table1.csv`` missing any of them is completed by running.
        probe_subspaces: probe every subspace of the method too (its probe map).
        protocols: the probe protocols required (``run_table1``); a saved table lacking one is completed.

    Returns:
        The rows of ``table1.csv``: method, seed, train_set, task, features, balanced_accuracy, C,
        val_balanced_accuracy, column, protocol.
    """
    get_method(method)
    protocols = check_protocols(protocols)
    folder = Path(folder)
    mcfg = with_method(cfg, method)
    saved = folder / "table1.csv"
    if saved.is_file():
        rows = with_protocol(pd.read_csv(saved))
        if "method" not in rows.columns:
            rows.insert(0, "method", method)
        rows = rows[rows["protocol"].isin(protocols)]
        have = {(int(s), p) for s, p in zip(rows["seed"], rows["protocol"])}
        if {(int(s), p) for s in seeds for p in protocols} <= have and (rows["method"] == method).all():
            if not _unit_configs_match(folder, mcfg, seeds):
                raise ValueError(
                    f"{saved} was made with another configuration than {method!r} at preset {cfg.preset!r} "
                    "(compare its seed*/config.json); use another folder or compare.comparison_config(preset)"
                )
            return rows[rows["seed"].isin(seeds)].reset_index(drop=True)
    probed = ("Z", *subspaces(mcfg)) if probe_subspaces else ("Z",)
    rows, _ = run_table1(mcfg, folder, seeds=list(seeds), device=device, progress=progress, subspaces=probed,
                         protocols=protocols)
    return rows


def comparison_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method, probe protocol and Table 1 column: ours_mean, ours_std, n_seeds, paper_mean, paper_std,
    chance.

    Args:
        rows: tidy rows of one or more methods (``load_or_run`` output, concatenated), with the
            columns method, seed, column, balanced_accuracy (and protocol; missing: held out); only rows
            whose column is set are scored.
    """
    need = {"method", "seed", "column", "balanced_accuracy"}
    if not isinstance(rows, pd.DataFrame) or not need <= set(rows.columns):
        raise ValueError(f"rows must be a DataFrame with the columns {sorted(need)}")
    scored = rows[rows["column"].fillna("").isin(COLUMNS)]
    if scored.empty:
        raise ValueError(f"no scored rows: the column 'column' must hold some of {list(COLUMNS)}")
    frames = []
    for method in dict.fromkeys(scored["method"]):
        name = display_name(method)  # an unknown method: one line naming the valid ones
        t = summarize(scored[scored["method"] == method], method=name)
        t.insert(0, "method", name)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method: per Table 1 column the score under each probe protocol and the paper's, e.g.
    ``R held out``, ``R published protocol``, ``R paper``, ``U held out``, ... (balanced accuracy %, 0.1)."""
    table = with_protocol(table)
    protocols = [p for p in PROTOCOLS if p in set(table["protocol"])]
    out = {}
    for _, r in table.iterrows():
        row = out.setdefault(r["method"], {})
        key = r["column"][0].upper()
        row[f"{key} {PROTOCOL_LABELS[r['protocol']]}"] = round(float(r["ours_mean"]), 1)
        row[f"{key} paper"] = r["paper_mean"]
    wide = pd.DataFrame.from_dict(out, orient="index")
    wide.index.name = "method"
    order = [f"{c[0].upper()} {w}" for c in COLUMNS for w in [*(PROTOCOL_LABELS[p] for p in protocols), "paper"]]
    return wide[[c for c in order if c in wide.columns]]


def method_probe_map(rows: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """The probe map (task x feature set, balanced accuracy %, mean over seeds) from probe rows.

    Args:
        rows: tidy rows with train_set, task, features, balanced_accuracy (and method when
            ``method`` is given); a baseline's ``table1.csv`` written by ``coral-lab reproduce``.
        method: keep only this method's rows.

    Returns:
        Rows labelled as ``coral_lab.evaluation.analysis.TASK_LABELS`` (shape, texture 1, texture 2, synergy),
        columns the method's subspaces then ``Z``, ready for ``views.probe_map_heatmap``.
    """
    need = {"train_set", "task", "features", "balanced_accuracy"}
    if not need <= set(rows.columns):
        raise ValueError(f"rows need the columns {sorted(need)}; got {list(rows.columns)}")
    if method is not None:
        rows = rows[rows["method"] == method]
    rows = protocol_rows(rows, HELD_OUT)  # the map is the held-out probe's (the published one reads Z only)
    keep = rows["task"].map(_TASK_UNIT) == rows["train_set"]
    rows = rows[keep]
    if rows.empty or set(rows["features"]) == {"Z"}:
        raise ValueError(
            "no per-subspace probe rows; they are written by `coral-lab reproduce --method <baseline>` "
            "(or compare.load_or_run with probe_subspaces=True)"
        )
    table = rows.pivot_table(index="task", columns="features", values="balanced_accuracy", aggfunc="mean")
    tasks = [t for t in TASK_LABELS if t in table.index]
    features = [f for f in dict.fromkeys(rows["features"]) if f != "Z"] + ["Z"]
    table = table.loc[tasks, features]
    table.index = pd.Index([TASK_LABELS[t] for t in tasks], name="task")
    table.columns = pd.Index(features, name="features")
    return table


def paper_pattern(table: pd.DataFrame, margin: float = 5.0, protocol: str = HELD_OUT) -> pd.DataFrame:
    """The paper's qualitative Table 1 pattern, checked on ``comparison_table`` output under one probe
    ``protocol``.

    A score counts as "above chance" when it beats chance by more than ``margin`` points, as "near
    chance" otherwise. Returns one row per statement: claim, holds (bool or None when a method is
    missing), detail.
    """
    table = protocol_rows(table, protocol)
    ours = {(r["method"], r["column"]): float(r["ours_mean"]) for _, r in table.iterrows()}

    def above(m, c):
        v = ours.get((m, c))
        return None if v is None else v > CHANCE[c] + margin

    claims = []

    def claim(text, value, detail):
        claims.append({"claim": text, "holds": value, "detail": detail})

    for m, cols in (("CLIP", ("uniqueness", "synergy")), ("FactorCL", ("synergy",))):
        vals = [above(m, c) for c in cols]
        holds = None if None in vals else not any(vals)
        claim(f"{m} near chance on {' and '.join(cols)}", holds,
              ", ".join(f"{c} {ours.get((m, c), float('nan')):.1f} (chance {CHANCE[c]:.0f})" for c in cols))
    for m in ("CoMM", "InfMasking", "COrAL"):
        vals = [above(m, c) for c in COLUMNS]
        holds = None if None in vals else all(vals)
        claim(f"{m} above chance on R, U and S", holds,
              ", ".join(f"{c[0].upper()} {ours.get((m, c), float('nan')):.1f}" for c in COLUMNS))
    u = {m: v for (m, c), v in ours.items() if c == "uniqueness"}
    best = max(u, key=u.get) if u else None
    claim("COrAL highest on uniqueness", None if "COrAL" not in u else best == "COrAL",
          ", ".join(f"{m} {v:.1f}" for m, v in sorted(u.items(), key=lambda kv: -kv[1])))
    return pd.DataFrame(claims)



def merged_device(devices: dict[str, str | None]) -> str:
    """The device of a comparison from each method's: the one device where all agree, else each method's.

    Methods trained on two CPU models (or two GPU models) compare like with like in accuracy, but their
    wall minutes are each machine's own, so the merged sidecar names every method's device after the
    kind they share (``"cpu, per method: clip: cpu: ...; factorcl: cpu: ..."``). A CPU method beside a
    GPU one is refused (a GPU run may train in bf16, ``train.amp``): train them on one kind of machine.
    """
    names = {str(d) for d in devices.values()}
    if len(names) == 1:
        return names.pop()
    kinds = {n.split(":", 1)[0].strip().lower() for n in names}
    if len(kinds) != 1:
        raise ValueError(f"the methods' results differ in device kind ({sorted(names)}); compare like with like")
    return f"{kinds.pop()}, per method: " + "; ".join(f"{m}: {d}" for m, d in devices.items())


def write_comparison(folders: dict[str, str | Path], path: str | Path) -> tuple[Path, Path]:
    """Collect every method's scored Table 1 rows into one result file with a merged provenance sidecar.

    Args:
        folders: method name -> its result folder (``table1.csv`` and ``table1.provenance.json``, as
            ``coral-lab reproduce`` writes them).
        path: the output CSV (e.g. ``results/baselines-quick/baselines_table1.csv``).

    Returns:
        (CSV path, sidecar path). The sidecar's command / commit / date list each method's own, preset and
        seeds must agree across methods (else ValueError), and the device is ``merged_device``'s: one
        where all agree, else each method's (CPU and GPU methods are not merged). A method whose result
        was made by several runs (``scripts/publish_results.py``) keeps them under ``runs[method]``.
    """
    if not folders:
        raise ValueError("give at least one method folder")
    frames, infos = [], {}
    for method, folder in folders.items():
        get_method(method)
        folder = Path(folder)
        csv, sidecar = folder / "table1.csv", folder / "table1.provenance.json"
        for f in (csv, sidecar):
            if not f.is_file():
                raise FileNotFoundError(f"{f} not found; run `coral-lab reproduce --method {method} --out {folder}` first")
        rows = pd.read_csv(csv)
        if "method" not in rows.columns:
            rows.insert(0, "method", method)
        rows = with_protocol(rows[rows["column"].fillna("").isin(COLUMNS)])
        frames.append(rows[["method", "seed", "train_set", "task", "protocol", "column", "balanced_accuracy"]])
        infos[method] = json.loads(sidecar.read_text())
    for key in ("preset", "seeds"):
        values = {json.dumps(i.get(key)) for i in infos.values()}
        if len(values) != 1:
            raise ValueError(f"the methods' results differ in {key} ({sorted(values)}); compare like with like")
    first = next(iter(infos.values()))
    info = {
        "command": "; ".join(f"{m}: {i.get('command')}" for m, i in infos.items()),
        "preset": first["preset"],
        "seeds": first["seeds"],
        "device": merged_device({m: i.get("device") for m, i in infos.items()}),
        "commit": "; ".join(f"{m}: {i.get('commit')}" for m, i in infos.items()),
        "date": max(str(i.get("date")) for i in infos.values()),
        "methods": list(infos),
        "wall_minutes": {m: i.get("wall_minutes") for m, i in infos.items()},
        "config": {m: i.get("config") for m, i in infos.items()},
    }
    runs = {m: i["runs"] for m, i in infos.items() if "runs" in i}  # a result made by several runs names each
    if runs:
        info["runs"] = runs
    return save_result(pd.concat(frames, ignore_index=True), path, info)
