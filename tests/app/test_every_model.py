"""Registry-driven: every shipped preset and backbone opens in every page beside another one.

Each test trains (once per session, tiny) two entries of conf/experiment and conf/backbone,
registers them, and opens Home, Compare, Leaderboard and Spectra with both selected. A new
preset or backbone is paired and opened the day its file is added (tests/helpers/zoo.py).
"""

from __future__ import annotations

import pytest

from tests.app.helpers import image_captions, images, page, texts
from tests.helpers.zoo import pair_group, pair_id, trains_a_backbone, zoo_pairs

COMPARE, LEADERBOARD, SPECTRA = "pages/1_Compare.py", "pages/2_Leaderboard.py", "pages/3_Spectra.py"


def pair_param(pair):
    marks = [] if all(entry.fast for entry in pair) else [pytest.mark.slow]
    if trains_a_backbone(pair):
        # The backbones' learning runs are shared with tests/models/test_backbones_learn.py:
        # one pytest-xdist worker trains them once for both.
        marks.append(pytest.mark.xdist_group(pair_group(pair)))
    return pytest.param(pair, id=pair_id(pair), marks=marks)


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_compare(labels: list[str], sample: str, folder) -> object:
    at = page(COMPARE)
    at.run()
    at.multiselect(key="compare_models").set_value(labels).run()
    at.text_input(key="sample_folder").set_value(str(folder)).run()
    at.multiselect(key="samples").select(sample).run()
    no_exception(at)
    return at


@pytest.mark.parametrize("pair", [pair_param(pair) for pair in zoo_pairs()])
def test_every_page_opens_with_two_shipped_models(pair, zoo_env, model_zoo):
    labels = zoo_env(*pair)
    home = page()
    home.run()
    no_exception(home)

    sample = sorted(path.name for path in (model_zoo.samples / "fake").glob("*.png"))[0]
    compare = open_compare(labels, f"fake/{sample}", model_zoo.samples)
    assert [metric.label for metric in compare.metric] == [f"P(fake) · {x}" for x in labels]
    for metric in compare.metric:
        assert 0.0 <= float(metric.value) <= 1.0
    # Every architecture the project builds is explained: one heatmap per model.
    assert sum("Grad-CAM" in caption for caption in image_captions(compare)) == 2
    assert not any("No Grad-CAM" in caption for caption in texts(compare.caption))

    board = page(LEADERBOARD)
    board.run()
    board.multiselect(key="leaderboard_models").set_value(labels).run()
    no_exception(board)
    assert set(labels) <= set(board.dataframe[0].value["model"])
    assert len(board.dataframe) >= 1 + len(labels)  # the board, then a table per model

    spectra = page(SPECTRA)
    spectra.run()
    spectra.radio(key="spectra_source").set_value("the training data of a registered model").run()
    for label in labels:
        spectra.selectbox(key="spectra_model").set_value(label).run()
        no_exception(spectra)
        assert len(images(spectra)) == 4


def test_heatmaps_off_builds_no_explainer(zoo_env, monkeypatch, model_zoo):
    from tests.helpers.zoo import ZooEntry

    labels = zoo_env(ZooEntry("experiment", "vgg16_hed_probe"), ZooEntry("experiment", "npr"))
    from deepguard_app.cache import explainer

    import deepguard.explain as explain

    explainer.clear()
    built = []
    real_gradcam = explain.GradCAM

    def counting_gradcam(model):
        built.append(model.name)
        return real_gradcam(model)

    monkeypatch.setattr(explain, "GradCAM", counting_gradcam)
    at = page(COMPARE)
    at.run()
    at.toggle(key="heatmaps").set_value(False).run()
    at.multiselect(key="compare_models").set_value(labels).run()
    at.text_input(key="sample_folder").set_value(str(model_zoo.samples)).run()
    sample = sorted(path.name for path in (model_zoo.samples / "real").glob("*.png"))[0]
    at.multiselect(key="samples").select(f"real/{sample}").run()
    no_exception(at)
    assert len(at.metric) == 2 and built == []
    assert not any("Grad-CAM" in caption for caption in image_captions(at))
    at.toggle(key="heatmaps").set_value(True).run()
    no_exception(at)
    assert len(built) == 2  # built when switched on, once per model


def test_a_model_grad_cam_cannot_explain_is_still_compared(zoo_env, monkeypatch, model_zoo):
    from deepguard_app.cache import explainer

    import deepguard.explain as explain
    from tests.helpers.zoo import ZooEntry

    labels = zoo_env(ZooEntry("experiment", "vgg16_hed_probe"), ZooEntry("experiment", "npr"))
    explainer.clear()
    real_gradcam = explain.GradCAM

    def refuse_npr(model):
        if "npr" in model.name:
            raise explain.NotExplainableError(f"model '{model.name}' has no 4-D feature map")
        return real_gradcam(model)

    monkeypatch.setattr(explain, "GradCAM", refuse_npr)
    sample = sorted(path.name for path in (model_zoo.samples / "real").glob("*.png"))[0]
    at = open_compare(labels, f"real/{sample}", model_zoo.samples)
    assert len(at.metric) == 2
    assert sum("Grad-CAM" in caption for caption in image_captions(at)) == 1
    notes = [caption for caption in texts(at.caption) if caption.startswith("No Grad-CAM")]
    assert len(notes) == 1 and "deepguard_npr" in notes[0]
    explainer.clear()  # later tests build the real explainer again
