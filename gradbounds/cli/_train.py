"""``gradbounds train``: Nielsen's chapter-5 experiment, per-layer speeds of learning."""

from __future__ import annotations

import sys

import numpy as np

from gradbounds._extras import require
from gradbounds.cli._main import UsageError, seed_arg
from gradbounds.io import json_header, write_json

HELP = "train a network (Nielsen ch. 5 presets) and record each hidden layer's speed of learning"
DESCRIPTION = """\
Train a feed-forward network with optax and record, for every hidden layer l,
Nielsen's speed of learning

  s_l = || (1/n) sum_x delta^l_x ||      (the norm of the mean bias gradient)

over the evaluation images, before each recorded step; at a few steps also the
mean E = ||delta^l|| and G (textbook bound) levels of the bound hierarchy, with
s_l <= mean E <= mean G, and the test accuracy.

Presets:
  nielsen-ch5           the protocol of the book's generate_gradient.py: sizes
                        [n_0] + [30]*k + [10], sigmoid, cross-entropy, W ~ N(0,1)/sqrt(n_in),
                        b ~ N(0,1), the first 1000 training images, full-batch gradient
                        descent, eta 0.1, L2 lambda 5.0 (w <- (1 - eta*lambda/n) w - eta*grad,
                        biases not decayed, n = 1000), 500 steps, speeds before each step.
  nielsen-ch5-accuracy  the chapter's accuracy run: full training set, mini-batches of 10,
                        30 epochs, eta 0.1, lambda 5.0; speeds over the first 1000 training
                        images once an epoch; test accuracy.

Datasets (nothing is downloaded): digits (scikit-learn's 8x8 digits, 64 inputs),
fashion-mnist (/usr/share/datasets/fashion-mnist or $GRADBOUNDS_FASHION_MNIST),
idx:DIR (MNIST-style IDX files), pkl:FILE (Nielsen's mnist.pkl.gz).

Remedies: --activation (hidden layers; the output stays sigmoid), --init,
--momentum, --l2, --eta; --compare-remedies runs the standard set on one protocol
(baseline, activation=tanh, activation=relu, init=standard-normal, init=glorot, init=he,
init=orthogonal, momentum=0.9, l2=0), --remedies NAME,NAME a subset of it.

examples:
  gradbounds train --preset nielsen-ch5 --hidden 4 --dataset digits
  gradbounds train --preset nielsen-ch5 --hidden 4 --dataset fashion-mnist --json speeds.json
  gradbounds train --dataset digits --steps 200 --compare-remedies
  gradbounds train --dataset digits --steps 50 --log-jsonl run.jsonl --tensorboard runs/digits
"""


def add_arguments(p) -> None:
    from gradbounds.training import PRESETS

    p.add_argument("--preset", default="nielsen-ch5", choices=tuple(PRESETS), help="protocol (default nielsen-ch5)")
    p.add_argument("--hidden", type=int, default=4, metavar="K", help="number of hidden layers (default 4)")
    p.add_argument("--width", type=int, default=30, help="neurons per hidden layer (default 30)")
    p.add_argument("--dataset", default="digits", metavar="SPEC", help="digits, fashion-mnist, idx:DIR or pkl:FILE")
    p.add_argument(
        "--network",
        metavar="FILE",
        help="start from these weights: .npz (W1, b1, ..., WL, bL and activations), or a .safetensors or"
        " torch .pt/.pth state dict with --activation (one name or one per layer)",
    )
    run = p.add_argument_group("protocol (default: the preset's)")
    run.add_argument("--steps", type=int, help="optimiser steps")
    run.add_argument("--epochs", type=int, help="epochs (when --steps is not given)")
    run.add_argument("--batch-size", type=int, help="mini-batch size (0: full batch)")
    run.add_argument("--n-train", type=int, help="first N training images (0: all)")
    run.add_argument("--n-eval", type=int, help="speeds over the first N training images (0: all used)")
    run.add_argument("--record-every", type=int, help="record speeds every R steps")
    run.add_argument("--detail-every", type=int, help="levels and accuracy every D steps")
    rem = p.add_argument_group("remedies")
    rem.add_argument(
        "--activation",
        help="sigma of the hidden layers: sigmoid, tanh, relu, ...; with a --network state dict, its activations",
    )
    rem.add_argument("--init", help="nielsen, standard-normal, glorot, he, orthogonal, gaussian")
    rem.add_argument("--eta", type=float, help="learning rate")
    rem.add_argument("--momentum", type=float, help="momentum mu (0: plain gradient descent)")
    rem.add_argument("--l2", type=float, help="Nielsen's L2 lambda (0: none)")
    rem.add_argument("--cost", help="cross-entropy or quadratic")
    run.add_argument("--no-levels", action="store_true", help="skip the bound levels (speeds and accuracy only)")
    rem.add_argument("--compare-remedies", action="store_true", help="run the standard set of remedies")
    rem.add_argument("--remedies", metavar="LIST", help="comma-separated subset of the remedies to compare")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of initialisation and shuffling (default 0)")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--json", metavar="PATH", help="write the result as JSON at the end ('-' for stdout)")
    logs = p.add_argument_group("logs as the run goes (each record flushed: a crash keeps what was done)")
    logs.add_argument("--log-jsonl", metavar="PATH", help='JSON lines: {"step": s, "speed": [...]} and the levels')
    logs.add_argument("--csv", metavar="PATH", help="long-format CSV: step,metric,value (speed/1 ... speed/L, ...)")
    logs.add_argument("--tensorboard", metavar="DIR", help="TensorBoard scalars (tensorboardX, extra 'train')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _protocol(args):
    from gradbounds.training import preset

    over = {}
    for name in (
        "steps",
        "epochs",
        "record_every",
        "detail_every",
        "activation",
        "init",
        "eta",
        "momentum",
        "l2",
        "cost",
    ):
        v = getattr(args, name)
        if v is not None and not (name == "activation" and args.network):  # then it names the file's
            over[name] = v
    for name in ("batch_size", "n_train", "n_eval"):
        v = getattr(args, name)
        if v is not None:
            if v < 0:
                raise UsageError(f"--{name.replace('_', '-')}: expected >= 0, got {v}")
            over[name] = v or None
    if args.no_levels:
        over["levels"] = False
    if args.steps is not None:
        over["epochs"] = None
    elif args.epochs is not None:
        over["steps"] = None
    if args.hidden < 1 or args.width < 1:
        raise UsageError(f"--hidden and --width: expected positive integers, got {args.hidden} and {args.width}")
    return preset(args.preset, **over).with_hidden(args.hidden, args.width)


def _loggers(args) -> list:
    """The loggers the flags ask for (files opened now: a bad path fails before training)."""
    from gradbounds.training import loggers as lg

    out = []
    try:
        if args.log_jsonl:
            out.append(lg.JSONLinesLogger(args.log_jsonl))
        if args.csv:
            out.append(lg.CSVLogger(args.csv))
        if args.tensorboard:
            out.append(lg.TensorBoardLogger(args.tensorboard))
    except BaseException:
        for x in out:
            x.close()
        raise
    return out


def _table(result, out) -> None:
    k = len(result.widths) - 2
    hs = result.hidden_speeds
    print("speed of learning ||mean delta^l|| of the hidden layers (before each step):", file=out)
    print("  " + f"{'step':>7}" + "".join(f"{'layer ' + str(i + 1):>11}" for i in range(k)), file=out)
    R = len(result.steps)
    rows = sorted(set(np.linspace(0, R - 1, min(R, 11)).round().astype(int).tolist()))
    for r in rows:
        print("  " + f"{result.steps[r]:>7}" + "".join(f"{v:>11.3e}" for v in hs[r]), file=out)
    fin = result.final["speeds"][:-1]
    print(
        "  " + f"{result.final['step']:>7}" + "".join(f"{v:>11.3e}" for v in fin) + "  (after the last step)", file=out
    )
    d = result.to_dict()
    if "initial" in d:
        ini = d["initial"]
        print("\nat step 0, speed / speed of the last hidden layer:", file=out)
        print("  this run            " + "".join(f"{v:>9.3g}" for v in ini["ratios_to_last_hidden"]), file=out)
        print(
            "  Nielsen (MNIST)     " + "".join(f"{v:>9.3g}" for v in ini["published_ratios_to_last_hidden"]), file=out
        )
        print("  Nielsen's speeds    " + "".join(f"{v:>9.3g}" for v in ini["published_speeds_mnist"]), file=out)
    for title, det in (("at step 0", result.details[0] if result.details else None), ("after training", result.final)):
        if det is None or "log10_E" not in det:
            continue
        print(f"\nlevels {title} (log10; s <= mean E <= mean G over the evaluation images):", file=out)
        print(f"  {'layer':>5}  {'speed s':>8}  {'mean E':>8}  {'mean G':>8}  {'G/s':>6}  verdict", file=out)
        for i in range(len(result.widths) - 1):
            print(
                f"  {i + 1:>5}  {det['log10_speed'][i]:>8.2f}  {det['log10_E'][i]:>8.2f}  {det['log10_G'][i]:>8.2f}"
                f"  {det['slack_log10'][i]:>6.2f}  {det['verdicts'][i]}",
                file=out,
            )
    print(f"\ntest accuracy after {result.final['step']} steps: {result.final['accuracy']:.4f}", file=out)


def run(args) -> int:
    import jax
    import jax.numpy as jnp

    from gradbounds import training

    for module in ("optax", "tqdm"):  # before any work: a missing extra is one line, exit 2
        require(module, "gradbounds train")
    protocol = _protocol(args)
    try:
        ds = training.load_dataset(args.dataset)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    dtype = jnp.float64 if args.dtype == "float64" else jnp.float32
    net = None
    if args.network:
        from gradbounds.cli._check import _read_network

        if args.activation is not None and args.network.endswith(".npz"):
            raise UsageError(
                f"--activation does not apply to --network {args.network}: an .npz network names its activations"
            )
        net = _read_network(args)  # .npz, .safetensors, .pt/.pth; --activation names a state dict's activations
        net = tuple(jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), layer) for layer in net)
    n = len(ds.head(protocol.n_train).labels_train)
    plan = protocol.plan(n)
    remedies = training.REMEDIES if args.compare_remedies else None
    if args.remedies:
        names = [r.strip() for r in args.remedies.split(",") if r.strip()]
        unknown = [r for r in names if r not in training.REMEDIES]
        if unknown:
            raise UsageError(
                f"--remedies: unknown remedy {unknown[0]!r}; expected names from {', '.join(training.REMEDIES)}"
            )
        remedies = {r: training.REMEDIES[r] for r in names}
    total = plan.total_steps * (len(remedies) if remedies else 1)
    out = sys.stdout if args.json != "-" else sys.stderr
    quiet_out = args.json == "-"
    ws = (
        (ds.n_inputs, *protocol.hidden, ds.n_classes)
        if net is None
        else tuple([int(net[0].W.shape[1])] + [int(layer.W.shape[0]) for layer in net])
    )
    if not quiet_out:
        print(f"gradbounds train: preset {args.preset}, dataset {ds.name}, sizes {list(ws)}", file=out)
        print(f"  {ds.describe()}", file=out)
        if ds.n_inputs != 784:
            print(
                f"  note: {ds.name} images are {'x'.join(map(str, ds.image_shape))} = {ds.n_inputs} inputs, "
                f"so the sizes are {list(ws)} (Nielsen's MNIST network has 784 inputs)",
                file=out,
            )
        batch = "full batch" if plan.batch_size == n else f"mini-batches of {plan.batch_size}"
        hidden = protocol.activation if net is None else "/".join(layer.activation for layer in net[:-1]) or "no"
        print(
            f"  {hidden} hidden layers, init {protocol.init}, {protocol.cost}, {n} training images, "
            f"{batch}, eta {protocol.eta}, L2 lambda {protocol.l2}, momentum {protocol.momentum}, "
            f"{plan.total_steps} steps, {args.dtype}, seed {args.seed}\n",
            file=out,
        )
    from tqdm import tqdm

    if remedies and net is not None:
        raise UsageError("--compare-remedies draws its own networks; drop --network")
    loggers = _loggers(args)
    bar = tqdm(total=total, file=sys.stderr, unit="step", disable=args.quiet or not sys.stderr.isatty(), leave=False)
    try:
        if remedies:
            results = training.compare_remedies(
                ds, protocol, remedies=remedies, seed=args.seed, dtype=dtype, progress=bar.update, loggers=loggers
            )
            result = next(iter(results.values()))
        else:
            result = training.train(
                ds, protocol, seed=args.seed, net=net, dtype=dtype, progress=bar.update, loggers=loggers
            )
            results = None
    finally:
        bar.close()
        for lg in loggers:
            lg.close()
    payload = {**json_header(), **result.to_dict()}
    payload["preset"] = args.preset
    if results:
        payload["remedies"] = {name: {**training.summarize(r), **r.to_dict()} for name, r in results.items()}
    if args.json:
        write_json(payload, args.json)
    if not quiet_out:
        _table(result, out)
        if results:
            print("\nremedies (same seed and protocol): first/last hidden-layer speed ratio, accuracy", file=out)
            print(f"  {'remedy':<22}{'step 0':>10}{'median':>10}{'final':>10}{'accuracy':>10}", file=out)
            for name, r in results.items():
                s = training.summarize(r)
                print(
                    f"  {name:<22}{s['initial_ratio_first_last']:>10.3g}{10 ** s['median_log10_ratio_first_last']:>10.3g}"
                    f"{s['final_ratio_first_last']:>10.3g}{s['final_accuracy']:>10.4f}",
                    file=out,
                )
    return 0
