"""The Train page's settings: backbone, strategy and its settings, training options -> a ``TrainConfig``.

The last settings are kept under :data:`TRAIN_CONFIG`, so they survive a page switch. The backbones on offer are
the catalogue's, with any rows a plugin registered (the test suite's tiny random-weight models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from ui import forms

if TYPE_CHECKING:
    from tlcore.models.registry import BackboneSpec
    from tlcore.train.config import TrainConfig
    from tlcore.train.strategies import StrategyConfig

TRAIN_CONFIG = "tl_train_config"

STRATEGY_HELP = {
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


def strategy_settings(spec: "BackboneSpec") -> "StrategyConfig":
    """Strategy and its settings: blocks to fine-tune, unfreezing schedule, learning rates, head, dropout."""
    from tlcore.train.strategies import STRATEGIES, StrategyConfig

    last = _last().strategy
    name = st.selectbox("Strategy", STRATEGIES, index=STRATEGIES.index(last.name), key="train-strategy",
                        help="How much of the pretrained backbone to train.")
    st.caption(STRATEGY_HELP[name])
    if not spec.offline and name != "scratch":
        st.warning("This backbone's pretrained weights are not on this machine, so only **scratch** can train it "
                   "here. Pick an offline backbone such as EfficientNet-Lite0 for transfer learning.")
    c1, c2, c3 = st.columns(3)
    groups = c1.number_input("Block groups to fine-tune", 1, 12, last.fine_tune_groups, key="train-groups",
                             disabled=name != "fine-tune", help="fine-tune: how many of the last block groups train.")
    every = c2.number_input("Unfreeze one more group every … epochs", 1, 20, last.unfreeze_every, key="train-every",
                            disabled=name != "gradual")
    head = c3.selectbox("Head", ("linear", "mlp"), index=("linear", "mlp").index(last.head), key="train-head")
    c1, c2, c3 = st.columns(3)
    head_lr = c1.select_slider("Head learning rate", LEARNING_RATES, value=_nearest(last.head_lr, LEARNING_RATES),
                               key="train-head-lr", format_func=lambda v: f"{v:g}")
    ratio = c2.select_slider("Backbone learning rate (× head's)", LR_RATIOS,
                             value=_nearest(last.backbone_lr_ratio, LR_RATIOS), key="train-ratio",
                             disabled=name in ("feature-extraction", "scratch"), format_func=lambda v: f"{v:g}")
    dropout = c3.slider("Dropout before the head", 0.0, 0.7, float(last.dropout), step=0.05, key="train-dropout")
    if name not in ("feature-extraction", "scratch"):
        st.caption(f"Backbone learns at {head_lr * ratio:g}, the head at {head_lr:g}.")
    return StrategyConfig(name=name, fine_tune_groups=int(groups), unfreeze_every=int(every), head_lr=head_lr,
                          backbone_lr_ratio=ratio, lr_decay=last.lr_decay, head=head, hidden=last.hidden,
                          dropout=float(dropout))


def _nearest(value: float, choices: tuple[float, ...]) -> float:
    return min(choices, key=lambda c: abs(c - value))


def training_settings(spec: "BackboneSpec", strategy: "StrategyConfig") -> "TrainConfig":
    """Epochs, batch size, early stopping, augmentations and the advanced options; saves the result."""
    from tlcore.train.config import MONITORS, TrainConfig

    last = _last()
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 200, last.epochs, key="train-epochs")
    batch = c2.select_slider("Batch size", (8, 16, 32, 64, 128), value=_nearest(last.batch_size, (8, 16, 32, 64, 128)),
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
