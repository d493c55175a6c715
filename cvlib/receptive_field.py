"""Receptive fields of convolutional networks: computed, measured and effective (notebook 14).

Three views of the same question, "which input pixels can change this unit?":

- :func:`compute` walks a Keras model's graph and applies the closed forms of Araujo, Norris
  and Sim, "Computing receptive fields of convolutional neural networks" (Distill, 2019). For
  every layer it gives the receptive-field **size** ``r`` (the extent of the input region one
  unit sees), the effective stride or **jump** ``j`` (how far apart, in input pixels, two
  neighbouring units' fields are) and the **start** ``u`` (the input coordinate of the first
  row/column of the field of unit 0, negative when it reaches into padding). A layer with
  kernel ``k``, stride ``s``, dilation ``d`` and ``p`` pixels of padding before its input maps

      k' = d (k - 1) + 1,    r_out = r_in + (k' - 1) j_in,    j_out = s j_in,    u_out = u_in - p j_in,

  so ten stacked 3x3 stride-1 convolutions see ``1 + 10 * 2 = 21`` pixels. The field of output
  unit ``i`` spans input pixels ``u + i j`` to ``u + i j + r - 1`` (inclusive), rows and columns
  separately (non-square kernels and strides are supported). The same holds, axis by axis, for 1-D
signals and 3-D volumes: every value below is a tuple with one entry per spatial axis.
- :func:`measure` finds the same region empirically: the input pixels where the gradient of one
  output unit is non-zero, computed with ``tf.GradientTape`` on a *linear, positive twin* of the
  model (see below), so the two must agree exactly.
- :func:`effective_receptive_field` averages the gradient *magnitude* over random inputs (and
  random weights, when given a model-building function): Luo, Li, Urtasun and Zemel, "Understanding
  the effective receptive field in deep convolutional neural networks" (NeurIPS 2016,
  arXiv:1701.04128). It is roughly Gaussian and grows like the square root of depth.

Padding. ``"valid"`` pads nothing. TensorFlow's ``"same"`` pads ``p_total = max((ceil(n / s) - 1) s
+ k' - n, 0)`` pixels, ``p_total // 2`` before and the rest after, where ``n`` is the layer's input
size: with stride 1 that is ``(k' - 1) // 2`` whatever ``n`` is, but with a stride above 1 the
offset depends on ``n``. :func:`compute` therefore tracks every layer's spatial size from the
model's input shape (or ``input_size=`` when the model accepts any size) and raises if it needs
a size it does not have. Sizes and jumps never depend on ``n``; only starts do.

Parallel paths (``Add``, ``Concatenate``, ...): every branch must reach the merge with the same
jump; the merged field is the bounding box of the branches' fields (for centred branches, the
largest of them). Where the branches' fields differ, the row says so (``paths_disagree``) and
lists them.

Layers understood, in 1-D, 2-D and 3-D (``Conv1D``, ``Conv2D``, ``Conv3D``, ...): ``InputLayer``;
``ConvND``, ``DepthwiseConvND``, ``SeparableConvND`` (any kernel, stride, dilation,
``"same"``/``"valid"``); ``MaxPoolingND``, ``AveragePoolingND``; ``GlobalAveragePoolingND``/
``GlobalMaxPoolingND`` (the whole input: the union of every unit of the layer below);
``ZeroPaddingND``, ``CroppingND``; pointwise layers (activations,
``BatchNormalization`` at inference, ``LayerNormalization``/``GroupNormalization`` over channels,
dropout and noise, ``Rescaling``, ``Normalization``, ``Identity``, and ``Dense`` on a feature
map, which acts on channels only); merges; nested functional/Sequential models. Anything else
(``Flatten``, ``Reshape``, ``UpSampling2D``, transposed convolutions, custom layers) raises a
``ValueError`` that names the layer, rather than returning a wrong number. Channels-last only.
:func:`compute` and :func:`measure` take 1-D, 2-D and 3-D models; :func:`effective_receptive_field` and
:func:`plot_field` are for images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "EffectiveField",
    "Field",
    "Measurement",
    "ReceptiveFields",
    "compute",
    "effective_receptive_field",
    "measure",
    "plot_field",
]

Pair = tuple[int, ...]  # one value per spatial axis: (rows, columns) for images, (X, Y, Z) for volumes


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """The receptive field of one layer's units in input pixels, one value per spatial axis (rows, columns).

    ``size`` is the field's extent, ``jump`` the distance between neighbouring units' fields,
    ``start`` the first input row/column of unit (0, 0)'s field (negative: it reaches into
    padding). ``kernel``/``stride``/``dilation`` are the layer's own (``None`` for layers without
    a window); ``padding`` is the padding name and ``pad`` the pixels it adds before the input
    (top, left), in the layer's input units. ``output_size`` is the layer's spatial size
    (``None`` where unknown or after global pooling without ``keepdims``).
    """

    name: str
    type: str
    size: Pair
    jump: Pair
    start: Pair
    kernel: Pair | None = None
    stride: Pair | None = None
    dilation: Pair | None = None
    padding: str | None = None
    pad: Pair = (0, 0)
    output_size: tuple[int | None, int | None] | None = None
    paths_disagree: bool = False
    note: str = ""

    @property
    def center(self) -> tuple[float, ...]:
        """Input coordinates (row, column) of the centre of unit (0, 0)'s field."""
        return tuple(u + (r - 1) / 2 for u, r in zip(self.start, self.size))

    def box(self, position: Pair | None = None, clip_to: Pair | None = None) -> tuple[int, ...]:
        """Inclusive pixel box ``(top, left, bottom, right)`` seen by the unit at ``position`` (row, col).

        In general the first input index along each axis, then the last: ``(x0, y0, z0, x1, y1, z1)``
        for a volume. ``position`` defaults to unit 0; with ``clip_to=(H, W)`` the box is cut to the
        image (what a gradient can reveal).
        """
        rank = len(self.size)
        position = (0,) * rank if position is None else tuple(position)
        if len(position) != rank:
            raise ValueError(f"position: expected {rank} indices (one per spatial axis), got {position!r}")
        first = [u + int(p) * j for u, p, j in zip(self.start, position, self.jump)]
        last = [a + r - 1 for a, r in zip(first, self.size)]
        if clip_to is not None:
            first = [max(a, 0) for a in first]
            last = [min(b, n - 1) for b, n in zip(last, clip_to)]
        return tuple(int(v) for v in (*first, *last))


class ReceptiveFields(Mapping):
    """Every layer's :class:`Field`, in graph order, by layer name (``fields["block5_pool"]``)."""

    def __init__(self, rows: list[Field], input_size: tuple[int | None, ...]):
        self.rows = list(rows)
        self.input_size = input_size
        self._by_name = {row.name: row for row in self.rows}

    def __getitem__(self, name: str) -> Field:
        if name not in self._by_name:
            raise KeyError(f"no layer {name!r}; layers: {', '.join(self._by_name)}")
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self.rows)

    def table(self, names=None) -> str:
        """A plain-text table (all layers, or those in ``names``)."""
        rows = self.rows if names is None else [self[n] for n in names]

        def pair(p):
            return "-" if p is None else (f"{p[0]}" if len(set(p)) == 1 else "x".join(str(v) for v in p))

        lines = [f"{'layer':<28} {'type':<22} {'kernel':>6} {'stride':>6} {'dil':>4} {'size':>9} {'jump':>5} "
                 f"{'start':>8}  note"]
        for f in rows:
            start = pair(f.start) if len(set(f.start)) == 1 else ",".join(str(v) for v in f.start)
            lines.append(f"{f.name[:28]:<28} {f.type[:22]:<22} {pair(f.kernel):>6} {pair(f.stride):>6} "
                         f"{pair(f.dilation):>4} {pair(f.size):>9} {pair(f.jump):>5} {start:>8}  {f.note}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        last = self.rows[-1]
        return f"ReceptiveFields({len(self)} layers, last {last.name!r}: size {last.size}, jump {last.jump})"


# --------------------------------------------------------------------------------------------
# The graph walk
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """What flows along a tensor: the field of its units, and its spatial size."""

    size: Pair
    jump: Pair
    start: Pair
    n: tuple[int | None, ...]
    spatial: bool = True          # False after global pooling without keepdims
    branches: tuple = ()          # (size, start, from_layer) per merged path, for notes


@dataclass(frozen=True)
class _Unknown:
    """A tensor below a layer the walk cannot handle; raised only if a requested layer depends on it."""

    message: str


def _keras():
    import keras

    return keras


def _functional(model, name: str = "model"):
    """The functional graph behind a Functional or Sequential model."""
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise ValueError(f"{name}: expected a keras.Model (functional or Sequential), got {type(model).__name__}")
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(
            f"{name}: {model.name!r} has no layer graph; give a Sequential model an Input "
            "(keras.Sequential([keras.Input((H, W, C)), ...])) or build a functional model"
        )
    return graph


def _nodes(graph) -> list:
    """The graph's operation nodes in execution order (deepest first), as Keras itself runs them."""
    ordered = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        ordered.extend(node for node in graph._nodes_by_depth[depth] if node.operation and not node.is_input)
    return ordered


def _per_axis(value, name: str, rank: int) -> Pair:
    """An int or a tuple of ``rank`` ints (a layer's kernel_size, strides, ...) as a tuple of ``rank`` ints."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"{name}: expected {rank} spatial values, got {value}")
    return value


def _before_after(amounts, rank: int) -> list[tuple[int, int]]:
    """A padding or cropping layer's amounts as (before, after) per spatial axis.

    Keras stores ``(a, b)`` for 1-D layers and ``((a, b), (c, d), ...)`` for 2-D and 3-D ones.
    """
    if rank == 1 and len(amounts) == 2 and all(isinstance(v, (int, np.integer)) for v in amounts):
        amounts = (amounts,)
    return [(int(a), int(b)) for a, b in amounts]


def _same_pad(n: int | None, k: int, s: int, where: str) -> int:
    """Pixels TensorFlow's 'same' padding adds before an input of size ``n``."""
    if s == 1:
        return (k - 1) // 2
    if n is None:
        raise ValueError(
            f"{where}: 'same' padding with stride {s} puts the field's offset at a place that depends on the "
            "input size, which this model leaves open; pass input_size=(H, W)"
        )
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2


def _out_size(n, k, s, padding):
    if n is None:
        return None
    return math.ceil(n / s) if padding == "same" else (n - k) // s + 1


_POINTWISE = (
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization",
    "GroupNormalization", "UnitNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization", "Rescaling", "Normalization", "Identity",
)
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
_CONVS = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
_POOLS = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
_GLOBAL_POOLS = ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                 "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")


# cvlib's subclasses that override call() to compute their parent's function faster (their tests hold them to it)
_SAME_AS_PARENT = ("cvlib.layers.normalization.FusedBatchNormalization",)


def _qualified_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _kind(layer) -> str:
    """The family of a layer, judged by its class and those it inherits from (so subclasses keep working)."""
    keras = _keras()
    L = keras.layers
    checks = [
        ("transpose", (L.Conv2DTranspose, L.Conv1DTranspose, L.Conv3DTranspose)),
        ("conv", tuple(getattr(L, n) for n in _CONVS)),
        ("pool", tuple(getattr(L, n) for n in _POOLS)),
        ("global_pool", tuple(getattr(L, n) for n in _GLOBAL_POOLS)),
        ("pad", (L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D)),
        ("crop", (L.Cropping1D, L.Cropping2D, L.Cropping3D)),
        ("merge", tuple(getattr(L, n) for n in _MERGES)),
        ("dense", (L.Dense,)),
        ("pointwise", tuple(getattr(L, n) for n in _POINTWISE if hasattr(L, n))),
        ("model", (keras.Model,)),
    ]
    for kind, classes in checks:
        if isinstance(layer, classes):
            # A subclass that overrides call() may do anything: only trust the classes Keras ships
            # and subclasses that keep their parent's call().
            if kind != "model" and type(layer).__module__.split(".")[0] != "keras":
                base = next(c for c in classes if isinstance(layer, c))
                if type(layer).call is not base.call and _qualified_name(type(layer)) not in _SAME_AS_PARENT:
                    return "unknown"
            return kind
    return "unknown"


def _unknown_message(layer, why: str = "") -> str:
    why = why or "its spatial effect is unknown to cvlib.receptive_field"
    return (
        f"layer {layer.name!r} ({type(layer).__name__}): {why}. Supported: convolutions, pooling, padding, "
        "cropping, global pooling, pointwise layers and merges; pass layer=... to analyse only the layers before it"
    )


def _check_channels_last(layer):
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): data_format='channels_first' is not "
                         "supported; build the model channels-last")


def _spatial_axes_only_channels(layer, axis, rank: int) -> bool:
    """True when ``axis`` (int or tuple) names only the channel axis of a (batch, *spatial, channels) tensor."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return all(a in (-1, rank + 1) for a in axes)


def _step(layer, node, states: list, name: str):
    """Apply one layer to the states of its inputs: returns (output state, Field or None)."""
    kind = _kind(layer)
    typ = type(layer).__name__
    bad = next((s for s in states if isinstance(s, _Unknown)), None)
    if bad is not None:
        return bad, None
    if kind in ("unknown", "transpose"):
        why = {
            "transpose": "a transposed convolution upsamples, so its units sit a fraction of a pixel apart "
                         "(a jump below 1); not supported",
        }.get(kind, "")
        return _Unknown(_unknown_message(layer, why)), None

    x = states[0]
    if kind == "merge":
        return _merge(layer, states, name)

    if not x.spatial:
        # After global pooling every unit already sees the whole input; these keep it so.
        if kind in ("pointwise", "dense"):
            return x, Field(name, typ, x.size, x.jump, x.start, output_size=None,
                            note="after global pooling: the whole input")
        return _Unknown(_unknown_message(layer, "it follows global pooling, where no spatial layout is left")), None

    _check_channels_last(layer)
    rank = len(x.n)
    if kind in ("pointwise", "dense"):
        if kind == "pointwise":
            axis = getattr(layer, "axis", -1)
            if typ in ("LayerNormalization", "UnitNormalization", "Softmax") and not _spatial_axes_only_channels(
                    layer, axis, rank):
                return _Unknown(_unknown_message(layer, f"it normalises over axis {axis}, which mixes positions")), None
        return x, Field(name, typ, x.size, x.jump, x.start, output_size=x.n)

    if kind in ("conv", "pool"):
        if kind == "conv":
            k, s, d = (_per_axis(layer.kernel_size, "kernel_size", rank), _per_axis(layer.strides, "strides", rank),
                       _per_axis(layer.dilation_rate, "dilation_rate", rank))
        else:
            k, s, d = (_per_axis(layer.pool_size, "pool_size", rank), _per_axis(layer.strides, "strides", rank),
                       (1,) * rank)
        padding = layer.padding.lower()
        if padding not in ("same", "valid"):
            return _Unknown(_unknown_message(layer, f"padding {padding!r} is not supported")), None
        keff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
        where = f"layer {layer.name!r} ({typ})"
        pad = tuple(_same_pad(n, ke, si, where) if padding == "same" else 0 for n, ke, si in zip(x.n, keff, s))
        n_out = tuple(_out_size(n, ke, si, padding) for n, ke, si in zip(x.n, keff, s))
        if any(n is not None and n < 1 for n in n_out):
            raise ValueError(f"{where}: its input ({x.n}) is smaller than its window ({keff})")
        size = tuple(r + (ke - 1) * j for r, ke, j in zip(x.size, keff, x.jump))
        jump = tuple(j * si for j, si in zip(x.jump, s))
        start = tuple(u - p * j for u, p, j in zip(x.start, pad, x.jump))
        out = _State(size, jump, start, n_out)
        return out, Field(name, typ, size, jump, start, kernel=k, stride=s, dilation=d, padding=padding, pad=pad,
                          output_size=n_out)

    if kind in ("pad", "crop"):
        amounts = _before_after(layer.padding if kind == "pad" else layer.cropping, rank)
        sign = 1 if kind == "pad" else -1
        before = tuple(a for a, _ in amounts)
        start = tuple(u - sign * b * j for u, b, j in zip(x.start, before, x.jump))
        n_out = tuple(None if n is None else n + sign * (a + b) for n, (a, b) in zip(x.n, amounts))
        out = _State(x.size, x.jump, start, n_out)
        return out, Field(name, typ, x.size, x.jump, start, pad=tuple(sign * b for b in before), output_size=n_out,
                          note="shifts the field" if any(before) else "")

    if kind == "global_pool":
        if any(n is None for n in x.n):
            raise ValueError(f"layer {layer.name!r} ({typ}): global pooling covers the whole input, whose size "
                             "this model leaves open; pass input_size=(H, W)")
        size = tuple(r + (n - 1) * j for r, n, j in zip(x.size, x.n, x.jump))
        keep = bool(getattr(layer, "keepdims", False))
        out = _State(size, x.jump, x.start, (1,) * rank if keep else (None,) * rank, spatial=keep)
        return out, Field(name, typ, size, x.jump, x.start, kernel=x.n, padding="valid",
                          output_size=(1,) * rank if keep else None,
                          note="global: the union of the fields of every unit below")

    raise AssertionError(kind)  # pragma: no cover


def _merge(layer, states: list, name: str):
    typ = type(layer).__name__
    spatial = {s.spatial for s in states}
    if len(spatial) > 1:
        return _Unknown(_unknown_message(layer, "it merges a feature map with a globally pooled vector")), None
    if typ == "Concatenate" and states[0].spatial and not _spatial_axes_only_channels(layer, layer.axis,
                                                                                       len(states[0].n)):
        return _Unknown(_unknown_message(layer, f"it concatenates along axis {layer.axis}, a spatial axis")), None
    jumps = {s.jump for s in states}
    if len(jumps) > 1:
        raise ValueError(
            f"layer {layer.name!r} ({typ}): its inputs have different jumps {sorted(jumps)}, so the union of "
            "their fields changes from unit to unit; no single receptive field describes it"
        )
    axes = range(len(states[0].start))
    first = tuple(min(s.start[a] for s in states) for a in axes)
    last = tuple(max(s.start[a] + s.size[a] - 1 for s in states) for a in axes)
    size = tuple(b - a + 1 for a, b in zip(first, last))
    branches = tuple((s.size, s.start) for s in states)
    disagree = len(set(branches)) > 1
    note = ""
    if disagree:
        shown = ", ".join(f"{r[0]}" if len(set(r)) == 1 else "x".join(map(str, r)) for r, _ in branches)
        centred = len({tuple(u + (r - 1) / 2 for u, r in zip(st, sz)) for sz, st in branches}) == 1
        note = (f"paths disagree ({shown}); reporting the "
                + ("largest" if centred else "bounding box of their union"))
    n = states[0].n
    out = _State(size, states[0].jump, first, n, spatial=states[0].spatial, branches=branches)
    return out, Field(name, typ, size, states[0].jump, first, output_size=n if states[0].spatial else None,
                      paths_disagree=disagree, note=note)


def _walk(model, states: list, prefix: str, rows: list, keep: set | None = None) -> dict:
    """Propagate ``states`` (one per model input) through ``model``'s graph; returns tensor id -> state."""
    graph = _functional(model)
    values = {id(t): s for t, s in zip(graph.inputs, states)}
    seen: dict[str, int] = {}
    for node in _nodes(graph):
        if keep is not None and id(node) not in keep:
            continue
        layer = node.operation
        if any(id(t) not in values for t in node.input_tensors):
            continue
        inputs = [values[id(t)] for t in node.input_tensors]
        calls = seen.get(layer.name, 0)
        seen[layer.name] = calls + 1
        name = prefix + layer.name + (f"[{calls}]" if calls else "")
        if _kind(layer) == "model" and not any(isinstance(s, _Unknown) for s in inputs):
            inner = _walk(layer, inputs, name + "/", rows)
            inner_graph = _functional(layer)
            outs = [inner[id(t)] for t in inner_graph.outputs]
        else:
            out, row = _step(layer, node, inputs, name)
            if row is not None:
                rows.append(row)
            outs = [out] * len(node.outputs)
        for t, s in zip(node.outputs, outs):
            values[id(t)] = s
    return values


def _target(graph, layer: str):
    """The output tensor of the (first call of the) top-level layer named ``layer``."""
    for node in _nodes(graph):
        if node.operation.name == layer:
            return node, node.outputs[0]
    for inp in graph.inputs:
        if inp._keras_history.operation.name == layer:
            return None, inp
    names = [lay.name for lay in graph.layers]
    raise ValueError(f"layer: {layer!r} is not a layer of model {graph.name!r}; valid names: {', '.join(names)}")


def _ancestors(tensor) -> set:
    """Ids of the nodes the tensor depends on (within its graph)."""
    keep, stack = set(), [tensor]
    while stack:
        op, node_index, _ = stack.pop()._keras_history
        node = op._inbound_nodes[node_index]
        if id(node) in keep:
            continue
        keep.add(id(node))
        stack.extend(node.input_tensors)
    return keep


def _input_state(graph, input_size) -> tuple[_State, tuple]:
    if len(graph.inputs) != 1:
        raise ValueError(f"model: expected one image input, got {len(graph.inputs)} inputs")
    shape = tuple(graph.inputs[0].shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"model: expected an input of shape (batch, H, W, C), (batch, L, C) or (batch, X, Y, Z, C), "
                         f"got {shape}")
    n = shape[1:-1]
    rank = len(n)
    if input_size is not None:
        if isinstance(input_size, (int, np.integer)):
            input_size = (input_size,) * rank
        if len(input_size) != rank or any(not isinstance(v, (int, np.integer)) or v < 1 for v in input_size):
            raise ValueError(f"input_size: expected {rank} positive integers (one per spatial axis), "
                             f"got {input_size!r}")
        for given, have in zip(input_size, n):
            if have is not None and given != have:
                raise ValueError(f"input_size: the model's input is {'x'.join(map(str, n))}, got {input_size}")
        n = tuple(int(v) for v in input_size)
    return _State((1,) * rank, (1,) * rank, (0,) * rank, n), n


def compute(model, layer: str | None = None, input_size=None) -> ReceptiveFields:
    """Receptive field, jump and start of every layer of ``model`` (Araujo et al., Distill 2019).

    ``model``: a built Keras functional or Sequential model with one (batch, H, W, C) image input, or
    a (batch, L, C) signal or a (batch, X, Y, Z, C) volume (every figure then has 1 or 3 values).
    ``layer``: analyse only the layers that feed this one (so a classifier head after it, e.g. a
    ``Flatten``, does not matter). ``input_size=(H, W)``: the input size when the model accepts
    any (needed only for strided 'same' layers and global pooling, see the module notes).
    Returns a :class:`ReceptiveFields` mapping layer names to :class:`Field` rows (the input first).
    Raises ``ValueError`` naming the first layer whose spatial effect is unknown.
    """
    graph = _functional(model)
    state, n = _input_state(graph, input_size)
    input_name = graph.inputs[0]._keras_history.operation.name
    rows = [Field(input_name, "InputLayer", state.size, state.jump, state.start, output_size=n)]
    keep = None
    if layer is not None:
        if not isinstance(layer, str):
            raise ValueError(f"layer: expected a layer name, got {type(layer).__name__}")
        _, tensor = _target(graph, layer)
        keep = _ancestors(tensor)
    values = _walk(model, [state], "", rows, keep)
    outputs = [values.get(id(_target(graph, layer)[1]))] if layer is not None else list(values.values())
    bad = next((s for s in outputs if isinstance(s, _Unknown)), None)
    if bad is not None:
        raise ValueError(bad.message)
    return ReceptiveFields(rows, n)


# --------------------------------------------------------------------------------------------
# Measurement through gradients
# --------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """Where one unit's gradient is non-zero in the input.

    ``box`` is ``(top, left, bottom, right)``, inclusive pixels; ``size`` its (height, width);
    (for a volume or a signal, the first indices along each axis then the last, and one size per axis);
    ``gradient`` the (H, W) gradient magnitude summed over input channels; ``support`` the boolean
    map of non-zero pixels; ``density`` the fraction of pixels inside the box that are non-zero
    (below 1 where dilation leaves holes); ``touches_border`` is True when the box reaches the
    image edge, where the true field may extend beyond what an image can show.
    """

    layer: str
    position: Pair | None
    box: tuple[int, ...]
    size: Pair
    gradient: np.ndarray = field(repr=False)
    support: np.ndarray = field(repr=False)
    density: float = 1.0
    touches_border: bool = False


def _linear_twin(layer, channels: int):
    """A float64 copy of ``layer`` with the same geometry and a linear, monotone map.

    Nonlinear or data-dependent layers become linear ones with the same footprint: activations,
    normalisation and dropout become Identity (a dead ReLU or a normalised constant could otherwise
    zero a gradient that the geometry allows), max pooling becomes average pooling (in 3-D a convolution of the
    same window, TensorFlow having no float64 3-D average pooling; max routes the
    gradient to one pixel per window), and every merge becomes a sum (a difference could cancel).
    """
    keras = _keras()
    L = keras.layers
    kind, typ = _kind(layer), type(layer).__name__
    dtype = "float64"
    if kind in ("conv", "dense"):
        cfg = layer.get_config()
        cfg.update(activation="linear", dtype=dtype)
        for key in list(cfg):  # regularisers and constraints play no part in a gradient's support
            if key.endswith(("_regularizer", "_constraint")):
                cfg[key] = None
        cfg.pop("quantization_config", None)
        base = next(getattr(L, n) for n in (*_CONVS, "Dense") if isinstance(layer, getattr(L, n)))
        return base.from_config(cfg)
    # the twin has as many spatial axes: "1D", "2D" or "3D", from the Keras class the layer is (or derives from)
    nd = next((c.__name__[-2:] for c in type(layer).__mro__ if c.__name__[-2:] in ("1D", "2D", "3D")), "2D")
    if kind == "pool" and nd == "3D":
        # TensorFlow has no float64 AvgPool3D on CPU: a convolution with the pool's window, positive weights and
        # as many channels reaches the same input cells (zeros of "same" padding add nothing either way)
        return L.Conv3D(channels, layer.pool_size, layer.strides, layer.padding, use_bias=False, dtype=dtype)
    if kind == "pool":
        return getattr(L, f"AveragePooling{nd}")(layer.pool_size, layer.strides, layer.padding, dtype=dtype)
    if kind == "global_pool":
        return getattr(L, f"GlobalAveragePooling{nd}")(keepdims=bool(getattr(layer, "keepdims", False)), dtype=dtype)
    if kind == "pad":
        return getattr(L, f"ZeroPadding{nd}")(layer.padding, dtype=dtype)
    if kind == "crop":
        return getattr(L, f"Cropping{nd}")(layer.cropping, dtype=dtype)
    if kind == "pointwise":
        return L.Identity(dtype=dtype)
    if kind == "merge":
        return L.Concatenate(axis=layer.axis, dtype=dtype) if typ == "Concatenate" else L.Add(dtype=dtype)
    raise ValueError(_unknown_message(layer))


def _positive_weights(twin) -> None:
    """Weights that keep every path's contribution positive and the gradient's range inside float64.

    Each spatial tap gets ``1 / sqrt(kh * kw)`` (the product of the kernel's sides, in any number of
    dimensions) and channel mixing is averaged (``1 / C_in``): the
    gradient's largest value then grows like ``k ** depth`` and its smallest (a field's corner, one
    path) shrinks like ``k ** -depth``, both far from float64's limits for any real network.
    """
    keras = _keras()
    L = keras.layers
    if isinstance(twin, (L.SeparableConv1D, L.SeparableConv2D)):
        taps = math.prod(twin.depthwise_kernel.shape[:-2])
        twin.depthwise_kernel.assign(np.full(twin.depthwise_kernel.shape, 1 / math.sqrt(taps)))
        twin.pointwise_kernel.assign(np.full(twin.pointwise_kernel.shape, 1 / twin.pointwise_kernel.shape[-2]))
    elif isinstance(twin, (L.DepthwiseConv1D, L.DepthwiseConv2D)):
        taps = math.prod(twin.kernel.shape[:-2])
        twin.kernel.assign(np.full(twin.kernel.shape, 1 / math.sqrt(taps)))
    elif isinstance(twin, (L.Conv1D, L.Conv2D, L.Conv3D)):
        *kernel, cin, _ = twin.kernel.shape
        twin.kernel.assign(np.full(twin.kernel.shape, 1 / (math.sqrt(math.prod(kernel)) * cin)))
    elif isinstance(twin, L.Dense):
        twin.kernel.assign(np.full(twin.kernel.shape, 1 / twin.kernel.shape[0]))
    for w in twin.weights:
        if w.path.endswith("bias"):
            w.assign(np.zeros(w.shape))


def _build_twin(model, inputs, keep: set | None):
    """Rebuild ``model``'s graph (only the nodes in ``keep``) from linear twins; returns tensor id -> twin tensor."""
    graph = _functional(model)
    values = {id(t): x for t, x in zip(graph.inputs, inputs)}
    for node in _nodes(graph):
        if keep is not None and id(node) not in keep:
            continue
        layer = node.operation
        args = [values[id(t)] for t in node.input_tensors]
        if _kind(layer) == "model":
            inner = _build_twin(layer, args, None)
            outs = [inner[id(t)] for t in _functional(layer).outputs]
        else:
            twin = _linear_twin(layer, int(args[0].shape[-1]))
            out = twin(args if _kind(layer) == "merge" else args[0])
            _positive_weights(twin)
            outs = [out]
        for t, x in zip(node.outputs, outs):
            values[id(t)] = x
    return values


def measure(model, layer: str, position: Pair | None = None, channel: int | None = None,
            input_size=None) -> Measurement:
    """The input region where one unit of ``layer`` has a non-zero gradient (``tf.GradientTape``).

    The gradient is taken through a *linear, positive twin* of ``model`` (float64; activations,
    normalisation and dropout -> identity, max -> average pooling, merges -> sums; kernels filled
    with positive constants): every input pixel with a path to the unit then gets a strictly
    positive gradient and every other pixel exactly zero, so the region is the receptive field,
    cut to the image. ``position``: the unit's (row, column), default the centre; ``channel``: one
    output channel, default the sum over channels (the union of their fields, as :func:`compute`
    reports). ``input_size=(H, W)`` when the model accepts any size. 1-D and 3-D models work the
    same way, with one index per spatial axis.
    """
    import tensorflow as tf

    keras = _keras()
    graph = _functional(model)
    if not isinstance(layer, str):
        raise ValueError(f"layer: expected a layer name, got {type(layer).__name__}")
    _, tensor = _target(graph, layer)
    compute(model, layer=layer, input_size=input_size)  # raises on any layer whose effect is unknown
    _, n = _input_state(graph, input_size)
    if any(v is None for v in n):
        raise ValueError("input_size: the model accepts any input size; pass input_size=(H, W) to measure")
    channels = graph.inputs[0].shape[-1]
    x_in = keras.Input((*n, channels), dtype="float64")
    values = _build_twin(model, [x_in], _ancestors(tensor))
    twin = keras.Model(x_in, values[id(tensor)])

    x = tf.ones((1, *n, channels), dtype=tf.float64)
    out_shape = tuple(twin.output.shape)
    rank = len(n)
    spatial = len(out_shape) == rank + 2
    if spatial:
        sides = out_shape[1:-1]
        if position is None:
            position = tuple((side - 1) // 2 for side in sides)
        position = tuple(int(p) for p in position)
        if len(position) != rank or not all(0 <= p < side for p, side in zip(position, sides)):
            raise ValueError(f"position: expected {rank} indices inside the {'x'.join(map(str, sides))} output of "
                             f"{layer!r}, got {position}")
    elif position is not None:
        raise ValueError(f"position: {layer!r} has no spatial layout (global pooling); leave position=None")
    depth = out_shape[-1]
    if channel is not None and not (isinstance(channel, (int, np.integer)) and 0 <= channel < depth):
        raise ValueError(f"channel: expected an integer in [0, {depth}), got {channel!r}")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = twin(x)
        y = y[(0, *position)] if spatial else y[0]
        unit = tf.reduce_sum(y) if channel is None else y[int(channel)]
    grad = np.abs(tape.gradient(unit, x).numpy()[0]).sum(axis=-1)
    support = grad > 0
    if not support.any():  # pragma: no cover - positive weights make this impossible
        raise RuntimeError(f"the gradient of {layer!r} at {position} is zero everywhere")
    # the extent of the support along each axis: the indices where any pixel of that slice is reached
    hits = [np.flatnonzero(support.any(axis=tuple(b for b in range(rank) if b != a))) for a in range(rank)]
    first, last = [int(h[0]) for h in hits], [int(h[-1]) for h in hits]
    box = (*first, *last)
    size = tuple(b - a + 1 for a, b in zip(first, last))
    density = float(support[tuple(slice(a, b + 1) for a, b in zip(first, last))].mean())
    border = any(a == 0 or b == side - 1 for a, b, side in zip(first, last, n))
    return Measurement(layer, position, box, size, grad, support, density, bool(border))


# --------------------------------------------------------------------------------------------
# The effective receptive field (Luo et al. 2016)
# --------------------------------------------------------------------------------------------


@dataclass
class EffectiveField:
    """The mean gradient magnitude of one unit over random inputs (and weights): Luo et al. 2016.

    ``map`` is (H, W), summing to 1; ``raw`` the unnormalised mean; ``center`` its centroid and
    ``sigma`` its standard deviation (rows, columns), from the first and second moments;
    ``samples`` how many inputs were averaged.
    """

    map: np.ndarray = field(repr=False)
    raw: np.ndarray = field(repr=False)
    center: tuple[float, float]
    sigma: tuple[float, float]
    samples: int

    def extent(self, mass: float = 0.95) -> int:
        """Side of the smallest square around the centroid holding ``mass`` of the map."""
        if not 0 < mass <= 1:
            raise ValueError(f"mass: expected a number in (0, 1], got {mass!r}")
        h, w = self.map.shape
        rr, cc = np.mgrid[0:h, 0:w]
        cheb = np.maximum(np.abs(rr - self.center[0]), np.abs(cc - self.center[1]))
        order = np.argsort(cheb, axis=None)
        cum = np.cumsum(self.map.ravel()[order])
        radius = cheb.ravel()[order][min(np.searchsorted(cum, mass - 1e-12), cum.size - 1)]
        return int(2 * np.floor(radius) + 1)

    def gaussian(self) -> np.ndarray:
        """The Gaussian with the map's centroid and sigma, on the same grid, summing to 1."""
        h, w = self.map.shape
        rr, cc = np.mgrid[0:h, 0:w]
        g = np.exp(-0.5 * (((rr - self.center[0]) / self.sigma[0]) ** 2 + ((cc - self.center[1]) / self.sigma[1]) ** 2))
        return g / g.sum()

    def gaussian_overlap(self) -> float:
        """1 - total variation distance to :meth:`gaussian`: 1 for a perfect Gaussian, 0 for disjoint maps."""
        return float(1 - 0.5 * np.abs(self.map - self.gaussian()).sum())


def effective_receptive_field(model, layer: str | None = None, inputs=None, *, num_samples: int = 16,
                              batch_size: int = 8, input_size=None, position: Pair | None = None,
                              channel: int | None = None, seed: int = 0) -> EffectiveField:
    """Mean |d unit / d input| of one unit of ``layer`` (default: the output) over inputs and weights.

    ``model``: a Keras model (its weights stay fixed: e.g. a trained one) or a zero-argument
    function returning a freshly initialised model, called once per batch so the average also runs
    over random weights, as Luo et al. do. ``inputs``: images (N, H, W, C) to average over; default
    ``num_samples`` standard-normal images of the model's input size (or ``input_size``).
    ``position``: the unit (row, column), default the centre; ``channel``: one channel, default the
    sum over channels. Runs in inference mode (dropout off, batch statistics frozen).
    """
    import tensorflow as tf

    keras = _keras()
    factory: Callable = model if (callable(model) and not isinstance(model, keras.Model)) else (lambda: model)
    first = factory()
    graph = _functional(first)
    _, n = _input_state(graph, input_size)
    channels = graph.inputs[0].shape[-1]
    if inputs is None:
        if any(v is None for v in n):
            raise ValueError("input_size: the model accepts any input size; pass input_size=(H, W)")
        if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"num_samples: expected a positive integer, got {num_samples!r}")
        inputs = np.random.default_rng(seed).standard_normal((int(num_samples), *n, channels)).astype("float32")
    else:
        inputs = np.asarray(inputs, dtype="float32")
        if inputs.ndim != 4 or inputs.shape[-1] != channels:
            raise ValueError(f"inputs: expected images of shape (N, H, W, {channels}), got {inputs.shape}")
        if not np.isfinite(inputs).all():
            raise ValueError("inputs: contains NaN or inf")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")

    total = np.zeros(inputs.shape[1:3])
    for b0 in range(0, len(inputs), batch_size):
        net = first if b0 == 0 else factory()
        g = _functional(net)
        out = g.outputs[0] if layer is None else _target(g, layer)[1]
        sub = keras.Model(g.inputs, out)
        x = tf.constant(inputs[b0:b0 + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = sub(x, training=False)
            if len(y.shape) != 4:
                raise ValueError(f"layer: {layer or 'the output'} has no spatial layout; choose a feature map")
            h, w = y.shape[1:3]
            i, j = position if position is not None else ((h - 1) // 2, (w - 1) // 2)
            if not (0 <= i < h and 0 <= j < w):
                raise ValueError(f"position: expected (row, column) inside the {h}x{w} map, got {position}")
            unit = y[:, i, j]
            unit = tf.reduce_sum(unit) if channel is None else tf.reduce_sum(unit[:, int(channel)])
        total += np.abs(tape.gradient(unit, x).numpy()).sum(axis=-1).sum(axis=0)
    raw = total / len(inputs)
    if raw.sum() <= 0:
        raise ValueError("the gradient is zero for every input: the unit is dead (try other inputs or weights)")
    p = raw / raw.sum()
    rr, cc = np.mgrid[0:p.shape[0], 0:p.shape[1]]
    cy, cx = float((p * rr).sum()), float((p * cc).sum())
    sy, sx = float(np.sqrt((p * (rr - cy) ** 2).sum())), float(np.sqrt((p * (cc - cx) ** 2).sum()))
    return EffectiveField(p, raw, (cy, cx), (sy, sx), len(inputs))


# --------------------------------------------------------------------------------------------
# Picture
# --------------------------------------------------------------------------------------------


def plot_field(image, fld: Field, position: Pair | None = None, ax=None, gradient=None, neighbours: int = 2,
               title: str | None = None):
    """Draw the receptive field of one unit of a layer on ``image`` (H, W[, C]).

    The solid square is the field of the unit at ``position`` (default: the unit whose field is
    centred nearest the image centre), the dots mark the centres of its ``neighbours`` nearest
    units on each side (one jump apart); ``gradient`` (H, W), e.g. from :func:`measure`, is
    overlaid as a heat map. Returns the Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib import patches

    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image: expected (H, W) or (H, W, C), got shape {img.shape}")
    h, w = img.shape[:2]
    if position is None:
        position = tuple(max(0, round(((s - 1) / 2 - c) / j)) for s, c, j in zip((h, w), fld.center, fld.jump))
        if fld.output_size is not None:
            position = tuple(min(p, n - 1) if n else p for p, n in zip(position, fld.output_size))
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    if gradient is not None:
        g = np.asarray(gradient, dtype=float)
        ax.imshow(np.ma.masked_where(g <= 0, g), cmap="magma", alpha=0.6)
    top, left, bottom, right = fld.box(position)
    ax.add_patch(patches.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                                   edgecolor="#E69F00", lw=2))
    cy, cx = (c + p * j for c, p, j in zip(fld.center, position, fld.jump))
    offs = np.arange(-neighbours, neighbours + 1)
    ny, nx = np.meshgrid(cy + offs * fld.jump[0], cx + offs * fld.jump[1], indexing="ij")
    ax.plot(nx.ravel(), ny.ravel(), ".", color="#56B4E9", ms=4)
    ax.plot([cx], [cy], "+", color="#D55E00", ms=10, mew=2)
    ax.set_xlim(min(-0.5, left - 1.5), max(w - 0.5, right + 1.5))
    ax.set_ylim(max(h - 0.5, bottom + 1.5), min(-0.5, top - 1.5))
    ax.set_axis_off()
    size = f"{fld.size[0]}" if fld.size[0] == fld.size[1] else f"{fld.size[0]}x{fld.size[1]}"
    ax.set_title(title or f"{fld.name}: field {size}, jump {fld.jump[0]}", fontsize=9)
    return ax
