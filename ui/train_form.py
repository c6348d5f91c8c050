"""The Train page's settings: backbone, strategy and its settings, training options -> the job to start.

The strategy ``auto`` (first, and preselected) gets its own settings (time budget, folds, kinds of candidate) and a
:class:`~tlcore.auto.config.AutoConfig`; every other strategy builds a ``TrainConfig``. The last settings are kept
under :data:`TRAIN_CONFIG`, :data:`TRAIN_STRATEGY` and :data:`AUTO_CONFIG`, so they survive a page switch, and
:func:`fill_training` / :func:`fill_auto` put a leaderboard candidate's settings into the form. The backbones on
offer are the catalogue's, with any rows a plugin registered (the test suite's tiny random-weight models).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import streamlit as st

from tlcore.auto.config import AUTO
from ui import forms, state
from ui.text import md_escape

if TYPE_CHECKING:
    from tlcore.auto.config import AutoConfig
    from tlcore.data.augment import AugmentConfig
    from tlcore.jobs.params import JobParams
    from tlcore.models.registry import BackboneSpec
    from tlcore.train.config import TrainConfig
    from tlcore.train.strategies import StrategyConfig

TRAIN_CONFIG = "tl_train_config"  # the last TrainConfig of the form (a manual strategy's settings)
TRAIN_STRATEGY = "tl_train_strategy"  # the strategy last picked: "auto" or a training strategy
AUTO_CONFIG = "tl_auto_config"  # the auto recipe's last settings (AutoConfig)
FILLED = "tl_train_filled"  # (note, config, run id) "Open as its own training" put into the form, while it holds them

STRATEGY_HELP = {
    AUTO: "Let the workbench choose: it scores raw pixels, linear probes, a trained head, fine-tuning and training "
          "from scratch by cross-validation within the time budget, then trains the winner on all non-test images "
          "and tests it once.",
    "feature-extraction": "Freeze the whole backbone, train only a new head. Fast (features are computed once), "
                          "the safe start for small datasets.",
    "fine-tune": "Train the new head and the last few block groups of the backbone, at a lower learning rate.",
    "gradual": "Start with the head only and unfreeze one more block group every few epochs.",
    "full": "Train every layer, the backbone at a lower learning rate. Slowest; needs more data.",
    "scratch": "Random initial weights, everything trains at the head's learning rate: the baseline that shows "
               "what pretraining is worth.",
}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
LR_RATIOS = (0.01, 0.03, 0.1, 0.3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128)
KIND_LABELS = {"pixels": "raw pixels", "probe": "linear probe", "head": "MLP head", "fine-tune": "fine-tune 1-2 groups",
               "scratch": "from scratch"}


@st.cache_resource(show_spinner=False, ttl=600)
def backbone_specs() -> list["BackboneSpec"]:
    """The backbone catalogue, with the rows plugins registered (:func:`tlcore.models.registry.list_backbones`)."""
    from tlcore.models.registry import list_backbones

    return list_backbones()


def describe(spec: "BackboneSpec") -> str:
    """``"3.4 M parameters · 224 px input · weights available offline"``."""
    weights = "weights available offline" if spec.offline else "weights NOT on this machine (needs a download)"
    return f"{spec.num_params / 1e6:.1f} M parameters · {spec.input_size} px input · {weights}"


def _last() -> "TrainConfig":
    from tlcore.train.config import TrainConfig

    return st.session_state.get(TRAIN_CONFIG) or TrainConfig()


def backbone_picker(specs: list["BackboneSpec"]) -> "BackboneSpec":
    """A select box of backbones with their size, input size and offline status."""
    names = [s.name for s in specs]
    by_name = {s.name: s for s in specs}
    last = _last().backbone
    name = st.selectbox("Backbone", names, index=names.index(last) if last in names else 0, key="train-backbone",
                        format_func=lambda n: by_name[n].label + ("" if by_name[n].offline else " (download needed)"))
    spec = by_name[name]
    st.caption(describe(spec))
    return spec


def strategy_names() -> tuple[str, ...]:
    """``auto`` first, then the training strategies of :data:`tlcore.train.strategies.STRATEGIES`."""
    from tlcore.train.strategies import STRATEGIES

    return (AUTO, *STRATEGIES)


def strategy_picker(spec: "BackboneSpec") -> str:
    """The strategy select box (``auto`` preselected on a first visit) and a caption saying what it does."""
    names = strategy_names()
    last = st.session_state.get(TRAIN_STRATEGY) or AUTO
    name = st.selectbox("Strategy", names, index=names.index(last) if last in names else 0, key="train-strategy",
                        help="auto chooses a recipe for you; the others train the one you set up here.")
    st.session_state[TRAIN_STRATEGY] = name
    st.caption(STRATEGY_HELP[name])
    if not spec.offline and name == AUTO:
        st.warning("This backbone's pretrained weights are not on this machine: auto skips the candidates that need "
                   "them on it and tries the offline EfficientNet-Lite probes and raw pixels instead.")
    elif not spec.offline and name != "scratch":
        st.warning("This backbone's pretrained weights are not on this machine, so only **scratch** can train it "
                   "here. Pick an offline backbone such as EfficientNet-Lite0 for transfer learning.")
    return name


def strategy_settings(spec: "BackboneSpec", name: str) -> "StrategyConfig":
    """The settings of training strategy ``name``: blocks to fine-tune, unfreezing schedule, learning rates, head,
    dropout."""
    from tlcore.train.strategies import StrategyConfig

    last = _last().strategy
    c1, c2, c3 = st.columns(3)
    groups = c1.number_input("Block groups to fine-tune", 1, 12, last.fine_tune_groups, key="train-groups",
                             disabled=name != "fine-tune", help="fine-tune: how many of the last block groups train.")
    every = c2.number_input("Unfreeze one more group every … epochs", 1, 20, last.unfreeze_every, key="train-every",
                            disabled=name != "gradual")
    head = c3.selectbox("Head", ("linear", "mlp"), index=("linear", "mlp").index(last.head), key="train-head")
    c1, c2, c3 = st.columns(3)
    rates = head_rates(last.head_lr)
    head_lr = c1.select_slider("Head learning rate", rates, value=_nearest(last.head_lr, rates),
                               key="train-head-lr", format_func=lambda v: f"{v:.2g}")
    ratio = c2.select_slider("Backbone learning rate (× head's)", LR_RATIOS,
                             value=_nearest(last.backbone_lr_ratio, LR_RATIOS), key="train-ratio",
                             disabled=name in ("feature-extraction", "scratch"), format_func=lambda v: f"{v:g}")
    dropout = c3.slider("Dropout before the head", 0.0, 0.7, float(last.dropout), step=0.05, key="train-dropout")
    if name not in ("feature-extraction", "scratch"):
        st.caption(f"Backbone learns at {head_lr * ratio:.2g}, the head at {head_lr:.2g}.")
    return StrategyConfig(name=name, fine_tune_groups=int(groups), unfreeze_every=int(every), head_lr=head_lr,
                          backbone_lr_ratio=ratio, lr_decay=last.lr_decay, head=head, hidden=last.hidden,
                          dropout=float(dropout))


def head_rates(kept: float) -> tuple[float, ...]:
    """The head learning rates on offer: :data:`LEARNING_RATES` plus ``kept`` (a range test's exact suggestion that a
    leaderboard candidate trained with), in order."""
    extra = (kept,) if 0 < kept < 1 and kept not in LEARNING_RATES else ()
    return tuple(sorted(LEARNING_RATES + extra))


def auto_settings() -> "AutoConfig":
    """The auto recipe's settings: time budget, folds, kinds of candidate, and optionally one candidate only."""
    from tlcore.auto.config import KINDS, AutoConfig

    last: AutoConfig = st.session_state.get(AUTO_CONFIG) or AutoConfig()
    c1, c2 = st.columns(2)
    budget = c1.number_input("Time budget (seconds)", 10, 7 * 24 * 3600, int(last.budget), step=10,
                             key="auto-budget", help="For everything: scoring the candidates, training the winner "
                             "on all non-test images and testing it. Candidates that would not fit are skipped, "
                             "and the leaderboard says why.")
    folds = c2.number_input("Folds", 2, 20, int(last.folds), key="auto-folds",
                            help="Every candidate is scored on the same stratified folds of the non-test images.")
    only = str(st.session_state.get("auto-only", last.only)).strip()
    kinds = st.multiselect("Kinds of candidate", KINDS, default=list(last.kinds), key="auto-kinds",
                           format_func=KIND_LABELS.get, disabled=bool(only),
                           help="Fewer kinds finish sooner: raw pixels and linear probes are quick; trained heads, "
                                "fine-tuning and from scratch take longer.")
    only = st.text_input("Only this candidate", last.only, key="auto-only",
                         placeholder="every candidate of these kinds",
                         help="A candidate's name from a leaderboard (e.g. probe:efficientnet_lite0): score and "
                              "train just that one.").strip()
    if only:
        st.caption("Only this candidate is scored and trained; the kinds above do not apply.")
    config = replace(last, budget=float(budget), folds=int(folds), kinds=tuple(k for k in KINDS if k in kinds),
                     only=only)
    st.session_state[AUTO_CONFIG] = config
    return config


def auto_training_settings(spec: "BackboneSpec") -> "TrainConfig":
    """The few training settings auto shares with a manual training (seed, batch size, image size) -> the
    ``TrainConfig`` it starts from; everything else keeps the defaults the CLI's ``--strategy auto`` has."""
    from tlcore.train.config import TrainConfig

    last = _last()
    c1, c2, c3 = st.columns(3)
    seed = c1.number_input("Seed (split and initialisation)", 0, 2**31 - 1, last.seed, key="train-seed",
                           help="The test split is the one a training with this seed keeps apart.")
    batch = c2.select_slider("Batch size", BATCH_SIZES, value=_nearest(last.batch_size, BATCH_SIZES),
                             key="train-batch")
    size = c3.number_input("Image size (px, 0 = the backbone's own)", 0, 512, last.image_size or 0, step=16,
                           key="train-size", help=f"{spec.label} expects {spec.input_size} px.")
    st.caption("Auto decides the rest by itself: augmentation (by cross-validation), learning rates (a range test "
               "per trained candidate), head, epochs (at most 10, with early stopping) and which block groups train.")
    st.session_state[TRAIN_CONFIG] = replace(last, backbone=spec.name, seed=int(seed), batch_size=int(batch),
                                             image_size=int(size) or None)
    return TrainConfig(backbone=spec.name, seed=int(seed), batch_size=int(batch), image_size=int(size) or None)


def _nearest(value: float, choices: tuple[float, ...]) -> float:
    return min(choices, key=lambda c: abs(c - value))


def training_settings(spec: "BackboneSpec", strategy: "StrategyConfig") -> "TrainConfig":
    """Epochs, batch size, early stopping, augmentations and the advanced options; saves the result."""
    from tlcore.train.config import MONITORS, TrainConfig

    last = _last()
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 200, last.epochs, key="train-epochs")
    batch = c2.select_slider("Batch size", BATCH_SIZES, value=_nearest(last.batch_size, BATCH_SIZES),
                             key="train-batch")
    early = c3.checkbox("Early stopping", value=last.patience > 0, key="train-early",
                        help="Stop when the validation loss has not improved for a few epochs; keep the best epoch.")
    patience = c4.number_input("Patience (epochs)", 1, 50, max(last.patience, 1), key="train-patience",
                               disabled=not early)
    st.markdown("**Augmentations**")
    augment = forms.augment_controls("train")
    with st.expander("More options"):
        c1, c2, c3 = st.columns(3)
        weighted = c1.checkbox("Class-weighted loss", value=last.class_weighted, key="train-weighted",
                               help="Weight the loss by inverse class frequency (for imbalanced data).")
        schedule = c2.selectbox("Learning-rate schedule", ("cosine", "onecycle", "constant"),
                                index=("cosine", "onecycle", "constant").index(last.schedule), key="train-schedule")
        monitor = c3.selectbox("Early stopping watches", MONITORS, index=MONITORS.index(last.monitor),
                               key="train-monitor")
        c1, c2, c3 = st.columns(3)
        smoothing = c1.slider("Label smoothing", 0.0, 0.3, float(last.label_smoothing), 0.05, key="train-smooth")
        seed = c2.number_input("Seed (split and initialisation)", 0, 2**31 - 1, last.seed, key="train-seed")
        size = c3.number_input("Image size (px, 0 = the backbone's own)", 0, 512, last.image_size or 0, step=16,
                               key="train-size", help=f"{spec.label} expects {spec.input_size} px.")
    config = TrainConfig(backbone=spec.name, strategy=strategy, epochs=int(epochs), batch_size=int(batch),
                         patience=int(patience) if early else 0, augment=augment, class_weighted=weighted,
                         schedule=schedule, monitor=monitor, label_smoothing=float(smoothing), seed=int(seed),
                         image_size=int(size) or None, weight_decay=last.weight_decay, aug_views=last.aug_views,
                         val_fraction=last.val_fraction, test_fraction=last.test_fraction)
    st.session_state[TRAIN_CONFIG] = config
    return config


@dataclass(frozen=True)
class TrainForm:
    """What the form holds: the backbone, the training settings and, for ``auto``, the auto recipe's settings."""

    spec: "BackboneSpec"
    config: "TrainConfig"
    auto: "AutoConfig | None" = None  # None: a training strategy

    def job(self, dataset_id: str) -> "JobParams":
        """The checked job to submit: an ``AutoJob`` for auto, else a ``TrainJob``.

        Raises:
            SettingError: a setting that can't work, named.
        """
        self.config.check()
        if self.auto is None:
            from tlcore.jobs.kinds.train import TrainJob

            return TrainJob(dataset_id, self.config)
        from tlcore.auto.candidates import candidate_from_name
        from tlcore.jobs.kinds.auto import AutoJob
        from tlcore.train.strategies import SettingError

        self.auto.check()
        if self.auto.only:
            try:
                candidate_from_name(self.auto.only)
            except ValueError:
                raise SettingError(f"'Only this candidate' is {self.auto.only!r}, which is no candidate's name; use a "
                                   "name from a leaderboard (e.g. probe:efficientnet_lite0) or leave it empty."
                                   ) from None
        return AutoJob(dataset_id, self.config, self.auto)

    def label(self, dataset_name: str) -> str:
        """What the job lists show, e.g. ``"auto on digits (demo)"``."""
        if self.auto is None:
            return f"train {self.spec.name} ({self.config.strategy.name}) on {dataset_name}"
        return f"auto ({self.auto.only}) on {dataset_name}" if self.auto.only else f"auto on {dataset_name}"


def settings(specs: list["BackboneSpec"]) -> TrainForm:
    """The whole form: backbone and strategy side by side, the strategy's settings, then the training options."""
    notice = st.empty()
    left, right = st.columns(2)
    with left:
        spec = backbone_picker(specs)
    with right:
        name = strategy_picker(spec)
        choice = auto_settings() if name == AUTO else strategy_settings(spec, name)
    if name == AUTO:
        form = TrainForm(spec, auto_training_settings(spec), choice)
    else:
        form = TrainForm(spec, training_settings(spec, choice))
    filled = st.session_state.get(FILLED)
    if filled and filled[1] in (form.config, form.auto):  # said while the form holds exactly what was filled in
        notice.success(md_escape(filled[0]), icon=":material/edit_note:")
    elif filled:
        del st.session_state[FILLED]
    return form


def fill_training(config: "TrainConfig", note: str, source: str = "") -> None:
    """Put ``config`` into the form with its strategy selected (for an ``on_click`` callback: before the widgets);
    ``note`` says so above the form while it holds exactly these settings (``source``: the run they came from)."""
    s = config.strategy
    st.session_state[TRAIN_CONFIG] = config
    st.session_state[TRAIN_STRATEGY] = s.name
    values = {"train-strategy": s.name, "train-groups": s.fine_tune_groups, "train-every": s.unfreeze_every,
              "train-head": s.head, "train-head-lr": s.head_lr, "train-ratio": _nearest(s.backbone_lr_ratio, LR_RATIOS),
              "train-dropout": float(s.dropout), "train-epochs": config.epochs,
              "train-batch": _nearest(config.batch_size, BATCH_SIZES), "train-early": config.patience > 0,
              "train-patience": max(config.patience, 1), "train-weighted": config.class_weighted,
              "train-schedule": config.schedule, "train-monitor": config.monitor,
              "train-smooth": float(config.label_smoothing), "train-seed": config.seed,
              "train-size": config.image_size or 0}
    if config.backbone in {b.name for b in backbone_specs()}:
        values["train-backbone"] = config.backbone
    st.session_state.update(values)
    _fill_augment(config.augment)
    st.session_state[FILLED] = (note, config, source)


def fill_auto(auto: "AutoConfig", seed: int, note: str, source: str = "") -> None:
    """Select auto with ``auto``'s settings and ``seed`` in the form (for an ``on_click`` callback); ``note`` and
    ``source`` as for :func:`fill_training`."""
    st.session_state[AUTO_CONFIG] = auto
    st.session_state[TRAIN_STRATEGY] = AUTO
    st.session_state[TRAIN_CONFIG] = replace(_last(), seed=seed)
    st.session_state.update({"train-strategy": AUTO, "auto-budget": int(auto.budget), "auto-folds": auto.folds,
                             "auto-kinds": list(auto.kinds), "auto-only": auto.only, "train-seed": seed})
    st.session_state[FILLED] = (note, auto, source)


def _fill_augment(augment: "AugmentConfig") -> None:
    st.session_state[state.AUGMENT] = augment
    st.session_state.update({"aug-train-hflip": augment.hflip, "aug-train-vflip": augment.vflip,
                             "aug-train-rotation": int(augment.rotation), "aug-train-scale": float(augment.scale_min),
                             "aug-train-color": float(augment.color)})
