"""Random-graph rows (`OpSpec`) for the ops of tests/op_cases_array.py's family: joined into
SPEC_ROWS by tests/random_graphs.py, from whose picks and templates they are built.

Ops that return a list or tuple (split, array_split, atleast_nd of several inputs) are spelled
with a join (concatenate or stack) in their forms, so a graph's values stay arrays. The `pad` row
here covers every mode; it comes after random_graphs.py's zero-fill `pad` row and replaces it in
SPECS (a dict by name). PyTorch templates exist where torch has the function; a call it cannot
make (pad's edge/reflect modes, whose torch versions pad only trailing axes) leaves out the
parameter its torch template names, so that graph skips the PyTorch comparison."""

from __future__ import annotations

import numpy as np


def _signed(rng, axes, nd: int) -> tuple[int, ...]:
    """Axes, each negative at times."""
    return tuple(int(a) - (nd if rng.random() < 0.4 else 0) for a in axes)


def rows() -> list:
    import random_graphs as rg  # (imported when random_graphs assembles its table)
    from random_graphs import OpSpec, Pick

    def some_axes(rng, nd: int, k: int | None = None) -> tuple[int, ...]:
        k = int(rng.integers(1, nd + 1)) if k is None else k
        return _signed(rng, rng.choice(nd, k, replace=False), nd)

    def pick_swapaxes(b) -> Pick | None:
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        nd = len(b.shape(x))
        a1, a2 = (int(b.rng.integers(-nd, nd)) for _ in range(2))
        return Pick((x,), {"a1": str(a1), "a2": str(a2)})

    def pick_moveaxis(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        nd = len(b.shape(x))
        k = int(rng.integers(1, nd + 1))
        src, dst = some_axes(rng, nd, k), some_axes(rng, nd, k)
        if k == 1 and rng.random() < 0.6:
            return Pick((x,), {"src": str(src[0]), "dst": str(dst[0])})
        return Pick((x,), {"src": repr(src), "dst": repr(dst)})

    def pick_squeeze(b) -> Pick | None:
        rng = b.rng

        def has_one(v) -> bool:
            return 1 in np.shape(v)

        x = b.tensor(ok=has_one)
        if x is None:
            shape = list(b.random_shape(1, 3))
            shape[int(rng.integers(len(shape)))] = 1
            x = b.fresh(tuple(shape))
        if x is None:
            return None
        xs = b.shape(x)
        ones = [k for k, n in enumerate(xs) if n == 1]
        r = rng.random()
        if not ones or r < 0.35:
            return Pick((x,), {**rg._kw(), "tkw": ""})
        chosen = _signed(rng, rng.choice(ones, int(rng.integers(1, len(ones) + 1)), replace=False), len(xs))
        axis = chosen[0] if len(chosen) == 1 and r < 0.7 else chosen
        return Pick((x,), {**rg._kw(axis=axis), "tkw": f", {axis!r}"})

    def pick_flat(b) -> Pick | None:
        """ravel and flatten: order 'C' (the default) or 'F'; torch flattens a permuted view."""
        x = b.tensor()
        if x is None:
            return None
        nd = len(b.shape(x))
        if b.rng.random() < 0.7:
            kw = rg._kw() if b.rng.random() < 0.7 else rg._kw(order="C")
            return Pick((x,), {**kw, "t_perm": ""})
        rev = ", ".join(str(k) for k in reversed(range(nd)))
        return Pick((x,), {**rg._kw(order="F"), "t_perm": f".permute({rev})" if nd > 1 else ""})

    def pick_atleast(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(0, 3))
        if x is None:
            return None
        if rng.random() < 0.55:
            return Pick((x,), {"wrap": "", "wrap_t": ""}, form="ag.{op}({0})")
        y = b.const(b.shape(x)) if rng.random() < 0.2 else b.tensor(shape=b.shape(x))
        if y is None:
            return None
        return Pick((x, y), {"wrap": "np.stack", "wrap_t": "torch.stack"}, form="ag.stack(ag.{op}({0}, {1}))")

    def atleast_row(op: str) -> OpSpec:
        def pick(b) -> Pick | None:
            p = pick_atleast(b)
            if p is not None:
                p.form = p.form.replace("{op}", op)
            return p

        return OpSpec(op, pick, (f"ag.{op}({{0}})", f"ag.stack(ag.{op}({{0}}, {{1}}))"),
                      f"{{wrap}}(np.{op}({{args}}))", f"{{wrap_t}}(torch.{op}({{args}}))")

    def pick_repeat(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        xs = b.shape(x)
        axis = None if not xs or rng.random() < 0.3 else int(rng.integers(-len(xs), len(xs)))
        n = rg._size(xs) if axis is None else xs[axis]
        if rng.random() < 0.5:
            reps = int(rng.integers(0, 4))
            src, src_t = str(reps), str(reps)
        else:
            counts = [int(c) for c in rng.integers(0, 3, n if rng.random() < 0.85 else 1)]
            src, src_t = repr(counts), f"torch.tensor({counts!r})"
        kw = rg._kw() if axis is None else rg._kw(axis=axis)
        return Pick((x,), {**kw, "reps": src, "reps_t": src_t,
                           "tkw": "" if axis is None else f", dim={axis}"})

    def pick_tile(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        reps = tuple(int(r) for r in rng.integers(1, 4, int(rng.integers(1, 4))))
        src = str(reps[0]) if len(reps) == 1 and rng.random() < 0.5 else repr(reps)
        return Pick((x,), {"reps": src, "reps_t": repr(reps)})

    def pick_split(equal: bool):
        def pick(b) -> Pick | None:
            rng = b.rng
            x = b.tensor(ndim=(1, 3))
            if x is None:
                return None
            xs = b.shape(x)
            axis = int(rng.integers(-len(xs), len(xs)))
            n = xs[axis]
            if rng.random() < 0.6:
                ks = [k for k in range(1, n + 2) if not equal or n % k == 0]
                ios = str(ks[int(rng.integers(len(ks)))])
                pieces = int(ios)
            else:
                points = sorted(int(i) for i in rng.integers(0, n + 1, int(rng.integers(1, 3))))
                ios, pieces = repr(points), len(points) + 1
            k = int(rng.integers(pieces))
            sel = "[::-1]" if rng.random() < 0.6 else f"[{k}:{k + 1}]"
            kw = rg._kw(axis=axis) if axis or rng.random() < 0.5 else rg._kw()
            return Pick((x,), {**kw, "ios": ios, "sel": sel, "axis": str(axis)})

        return pick

    def split_row(op: str) -> OpSpec:
        return OpSpec(op, pick_split(op == "split"),
                      (f"ag.concatenate(ag.{op}({{0}}, {{ios}}{{kw_}}){{sel}}, axis={{axis}})",),
                      f"np.concatenate(np.{op}({{0}}, {{ios}}{{kw_}}){{sel}}, axis={{axis}})",
                      "torch.cat(torch.tensor_split({0}, {ios}, dim={axis}){sel}, dim={axis})")

    def pick_flip(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        nd = len(b.shape(x))
        if not nd or rng.random() < 0.3:
            return Pick((x,), {**rg._kw(), "dims_t": repr(tuple(range(nd)))})
        axes = some_axes(rng, nd)
        axis = axes[0] if len(axes) == 1 and rng.random() < 0.6 else axes
        return Pick((x,), {**rg._kw(axis=axis), "dims_t": repr(axes)})

    def pick_roll(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        nd = len(b.shape(x))
        if not nd or rng.random() < 0.3:
            shift = int(rng.integers(-4, 5))
            return Pick((x,), {**rg._kw(), "shift": str(shift), "shift_t": str(shift), "tkw": ""})
        axes = some_axes(rng, nd)
        shifts = tuple(int(s) for s in rng.integers(-4, 5, len(axes)))
        if len(axes) == 1 and rng.random() < 0.5:
            return Pick((x,), {**rg._kw(axis=axes[0]), "shift": str(shifts[0]), "shift_t": str(shifts[0]),
                               "tkw": f", {axes[0]}"})
        return Pick((x,), {**rg._kw(axis=axes), "shift": repr(shifts), "shift_t": repr(shifts),
                           "tkw": f", {axes!r}"})

    def pick_take(b) -> Pick | None:
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        xs = b.shape(x)
        axis = None if not xs or rng.random() < 0.3 else int(rng.integers(-len(xs), len(xs)))
        n = rg._size(xs) if axis is None else xs[axis]
        r = rng.random()
        if r < 0.2:
            idx = int(rng.integers(-n, n))
            src = src_t = str(idx)
        else:
            idx = rg._repeated(rng, n)
            if r > 0.8 and len(idx) % 2 == 0:
                idx = idx.reshape(2, -1)
            src, src_t = f"np.array({idx.tolist()!r})", f"torch.tensor({idx.tolist()!r})"
            if rng.random() < 0.4:
                src = repr(idx.tolist())
        kw = rg._kw() if axis is None else rg._kw(axis=axis)
        pre = "torch.ravel" if axis is None else ""
        where = ":, " * (0 if axis is None else axis % len(xs))
        return Pick((x,), {**kw, "idx": src, "t_pre": pre, "t_idx": where + src_t})

    def pick_take_along_axis(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        xs = b.shape(x)
        if len(xs) == 1 and rng.random() < 0.3 or rng.random() < 0.1:
            n = rg._size(xs)
            idx = b.int_const(rng.integers(0, n, int(rng.integers(1, 6))))
            return Pick((x, idx), {"kw_": ", axis=None", "t_flat": ".reshape(-1)", "tkw": ", dim=0"})
        axis = int(rng.integers(-len(xs), len(xs)))
        shape = tuple(int(rng.integers(1, 5)) if k == axis % len(xs) else 1 if rng.random() < 0.25 else n
                      for k, n in enumerate(xs))
        idx = b.int_const(rng.integers(0, xs[axis], shape))
        kw_ = "" if axis == -1 and rng.random() < 0.5 else f", axis={axis}"
        return Pick((x, idx), {"kw_": kw_, "t_flat": "", "tkw": f", dim={axis}"})

    def pick_pad(b) -> Pick | None:
        rng = b.rng
        x = b.tensor(ndim=(1, 3))
        if x is None:
            return None
        nd = len(b.shape(x))
        r = rng.random()
        if r < 0.3:
            p = int(rng.integers(1, 4))
            src, per_axis = str(p), ((p, p),) * nd
        elif r < 0.5:
            pair = (int(rng.integers(0, 4)), int(rng.integers(0, 4)))
            src, per_axis = repr(pair), (pair,) * nd
        else:
            per_axis = tuple((int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(nd))
            src = repr(per_axis)
        params = {"pad_width": src}
        flat = repr([p for pair in reversed(per_axis) for p in pair])
        mode = ("constant", "constant", "edge", "reflect")[int(rng.integers(4))]
        if mode != "constant":  # (torch pads only trailing axes in these modes: no torch version)
            return Pick((x,), {**params, **rg._kw(mode=mode)})
        if rng.random() < 0.5:
            return Pick((x,), {**params, **rg._kw(), "t_flat": flat, "t_value": ""})
        value = float(rg.rounded(rng.uniform(-2, 2)))
        if rng.random() < 0.7:
            return Pick((x,), {**params, **rg._kw(constant_values=value), "t_flat": flat,
                               "t_value": f", value={value!r}"})
        pairs = tuple(tuple(float(v) for v in rg.rounded(rng.uniform(-2, 2, 2))) for _ in range(nd))
        return Pick((x,), {**params, **rg._kw(mode="constant", constant_values=pairs)})

    def pick_array(b) -> Pick | None:
        """2 to 4 operands of one shape (Python numbers among them when 0-d), as a flat list or,
        for four, nested 2 x 2."""
        rng = b.rng
        x = b.tensor()
        if x is None:
            return None
        xs = b.shape(x)
        k = int(rng.integers(2, 5))
        args = [x]
        for _ in range(k - 1):
            r = rng.random()
            if not xs and r < 0.3:
                a = b.scalar()
            elif r < 0.45:
                a = x
            elif r < 0.6:
                a = b.const(xs)
            else:
                a = b.tensor(shape=xs)
            if a is None:
                return None
            args.append(a)
        rng.shuffle(args)
        nested = k == 4 and rng.random() < 0.75
        lead = (2, 2) if nested else (k,)
        form = "ag.array([[{0}, {1}], [{2}, {3}]])" if nested else "ag.array([{args}])"
        return Pick(tuple(args), {"shape": repr(lead + xs)}, form=form)

    kw_forms = ("ag.{op}({0}{kw_})", "{0}.{op}({kw})")
    return [
        OpSpec("swapaxes", pick_swapaxes, ("ag.swapaxes({0}, {a1}, {a2})", "{0}.swapaxes({a1}, {a2})"),
               "np.swapaxes({0}, {a1}, {a2})", "torch.swapaxes({0}, {a1}, {a2})"),
        OpSpec("moveaxis", pick_moveaxis, ("ag.moveaxis({0}, {src}, {dst})",),
               "np.moveaxis({0}, {src}, {dst})", "torch.movedim({0}, {src}, {dst})"),
        OpSpec("squeeze", pick_squeeze, tuple(f.replace("{op}", "squeeze") for f in kw_forms),
               "np.squeeze({0}{kw_})", "torch.squeeze({0}{tkw})"),
        OpSpec("ravel", pick_flat, tuple(f.replace("{op}", "ravel") for f in kw_forms), "np.ravel({0}{kw_})",
               "torch.ravel({0}{t_perm})"),
        OpSpec("flatten", pick_flat, tuple(f.replace("{op}", "flatten") for f in kw_forms),
               "np.asarray({0}).flatten({kw})", "torch.flatten({0}{t_perm})"),
        atleast_row("atleast_1d"),
        atleast_row("atleast_2d"),
        atleast_row("atleast_3d"),
        OpSpec("repeat", pick_repeat, ("ag.repeat({0}, {reps}{kw_})", "{0}.repeat({reps}{kw_})"),
               "np.repeat({0}, {reps}{kw_})", "torch.repeat_interleave({0}, {reps_t}{tkw})"),
        OpSpec("tile", pick_tile, ("ag.tile({0}, {reps})",), "np.tile({0}, {reps})",
               "torch.tile({0}, {reps_t})"),
        split_row("split"),
        split_row("array_split"),
        OpSpec("flip", pick_flip, ("ag.flip({0}{kw_})",), "np.flip({0}{kw_})", "torch.flip({0}, {dims_t})"),
        OpSpec("roll", pick_roll, ("ag.roll({0}, {shift}{kw_})",), "np.roll({0}, {shift}{kw_})",
               "torch.roll({0}, {shift_t}{tkw})"),
        OpSpec("take", pick_take, ("ag.take({0}, {idx}{kw_})", "{0}.take({idx}{kw_})"),
               "np.take({0}, {idx}{kw_})", "{t_pre}({0})[{t_idx}]"),
        OpSpec("take_along_axis", pick_take_along_axis, ("ag.take_along_axis({0}, {1}{kw_})",),
               "np.take_along_axis({0}, {1}{kw_})", "torch.take_along_dim({0}{t_flat}, {1}{tkw})"),
        OpSpec("pad", pick_pad, ("ag.pad({0}, {pad_width}{kw_})",), "np.pad({0}, {pad_width}{kw_})",
               "F.pad({0}, {t_flat}{t_value})"),
        OpSpec("array", pick_array, ("ag.array([{args}])", "ag.array([[{0}, {1}], [{2}, {3}]])"),
               "np.array([{args}], dtype=np.result_type({args})).reshape({shape})",
               "torch.stack([T(a) for a in [{args}]]).reshape({shape})"),
    ]
