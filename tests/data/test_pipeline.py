import numpy as np
import tensorflow as tf
from PIL import Image

from deepguard.data import discover, make_dataset, scan_images
from deepguard.errors import ImageInputError
from deepguard.images import (
    DATASET_LIMITS,
    check_image,
    read_image,
    read_input,
    to_model_input,
)


def test_batches_have_the_contract_shapes_dtypes_and_range(generic_root):
    records = discover(generic_root)  # PNG, JPEG, WebP and BMP files
    paths, labels = records["path"].tolist(), records["label"].astype(float).tolist()
    dataset = make_dataset(paths, labels, image_size=40, batch_size=5)
    batches = list(dataset)  # finite: this loop ends
    assert sum(int(x.shape[0]) for x, _ in batches) == len(paths)
    images, batch_labels = batches[0]
    assert images.shape == (5, 40, 40, 3) and images.dtype == tf.float32
    assert batch_labels.dtype == tf.float32
    everything = np.concatenate([x.numpy() for x, _ in batches])
    assert everything.min() >= 0 and everything.max() <= 255 and everything.max() > 200
    # Not shuffled: labels come back in the order given.
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), labels)


def test_webp_and_bmp_decode_to_the_same_pixels_as_png(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    paths = []
    for fmt, ext in [("PNG", ".png"), ("WEBP", ".webp"), ("BMP", ".bmp")]:
        path = tmp_path / f"x{ext}"
        Image.fromarray(pixels).save(path, format=fmt, lossless=True)
        paths.append(str(path))
    images = next(iter(make_dataset(paths, None, image_size=32, batch_size=3))).numpy()
    for image in images:
        np.testing.assert_allclose(image, pixels, atol=1.0)


def test_animated_webp_gives_its_first_frame(tmp_path):
    first = np.full((16, 16, 3), 200, np.uint8)
    path = tmp_path / "animated.webp"
    frames = [Image.fromarray(first), Image.fromarray(255 - first)]
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)
    assert check_image(path).reason is None
    image = next(iter(make_dataset([str(path)], None, image_size=16, batch_size=1)))
    np.testing.assert_allclose(image[0], first, atol=1)


def test_exif_rotation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    (image,) = next(iter(make_dataset([path], None, image_size=40, batch_size=1))).numpy()
    # Displayed upright the white half is on top.
    assert image[:20].mean() > 200 and image[20:].mean() < 50


def test_batches_are_the_one_image_path_and_keep_the_order(generic_root):
    paths = sorted(str(p) for p in generic_root.rglob("*") if p.is_file() and p.suffix != ".txt")
    batches = make_dataset(paths, None, image_size=24, batch_size=5, num_parallel_calls=4)
    images = np.concatenate([b.numpy() for b in batches])
    expected = np.stack([read_input(p, 24) for p in paths])
    np.testing.assert_array_equal(images, expected)


def test_training_order_is_reshuffled_each_epoch(generic_root):
    paths = sorted(str(p) for p in generic_root.rglob("*.png"))  # 6 real pngs
    labels = list(range(len(paths)))
    dataset = make_dataset(paths, labels, image_size=8, batch_size=6, shuffle=True, seed=1)
    orders = [tuple(next(iter(dataset))[1].numpy()) for _ in range(4)]
    assert sorted(orders[0]) == labels
    assert len(set(orders)) > 1


def test_augmented_epochs_repeat_with_a_seed_and_differ_between_epochs(generic_root):
    from deepguard.data import Augmenter

    paths = sorted(str(p) for p in generic_root.rglob("*.png"))
    augment = Augmenter(flip_prob=0.5, blur_prob=0.5, brightness=0.2)

    def epochs(dataset, n=2):
        return [np.concatenate([x.numpy() for x, _ in dataset]) for _ in range(n)]

    def build():
        return make_dataset(
            paths, [0.0] * len(paths), image_size=16, batch_size=3, augment=augment, seed=4
        )

    first, second = epochs(build())
    assert not np.array_equal(first, second)  # new draws every epoch
    again_first, _ = epochs(build())
    np.testing.assert_array_equal(first, again_first)  # same seed, same augmented epoch


def left_half(rgb: np.ndarray) -> np.ndarray:
    return rgb[:, : rgb.shape[1] // 2]


def test_the_region_step_runs_between_decode_and_resize(generic_root):
    paths = sorted(str(p) for p in generic_root.rglob("*.png"))
    batches = make_dataset(paths, image_size=16, batch_size=len(paths), region=left_half)
    expected = [to_model_input(read_image(p, DATASET_LIMITS)[:, :12], 16) for p in paths]
    np.testing.assert_array_equal(next(iter(batches)).numpy(), np.stack(expected))
    whole = next(iter(make_dataset(paths, image_size=16, batch_size=len(paths)))).numpy()
    assert np.abs(whole - np.stack(expected)).max() > 10  # the region changed the input


def test_the_scan_quarantines_what_the_region_refuses(generic_root):
    def odd_corner_refused(rgb: np.ndarray) -> np.ndarray:
        if rgb[0, 0, 0] % 2:
            raise ImageInputError("corner refused", status=422, code="refused")
        return rgb

    records = discover(generic_root)
    refused = {p for p in records["path"] if read_image(p, DATASET_LIMITS)[0, 0, 0] % 2}
    good, quarantine = scan_images(records, 1.0, DATASET_LIMITS, odd_corner_refused)
    assert set(quarantine["path"]) == refused and 0 < len(refused) < len(records)
    assert set(quarantine["reason"]) == {"refused-by-region"}
    assert len(good) == len(records) - len(refused)
