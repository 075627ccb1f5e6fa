"""Prediction on image files: mask PNGs, overlays and a Kaggle submission
(`python -m unet predict`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from unet import checkpoints, files, inference, postprocess, viz
from unet.data import carvana, folder, image_files
from unet.errors import DataError, RunConflict, UsageError
from unet.submission import (
    SubmissionWriter,
    check_name,
    read_settings,
    recorded_inputs,
    settings_differences,
)

# How much of each end of an input image its stamp reads (`input_stamp`).
STAMP_BYTES = 1 << 16

# The record of the settings that made a mask folder's masks, in the folder.
MASK_FOLDER_RECORD = "predictions.json"


def list_inputs(inputs, ignored: list | None = None) -> list[Path]:
    """Image files from folders and file names, sorted and unique.

    Folders are read one level deep; suffixes match in any case (`.JPG`). What a folder holds
    besides images (subfolders, hidden files such as macOS's `._x.jpg`, other suffixes) is
    appended to `ignored` as `"path (why)"`, so the caller can say what was left out.

    Raises:
        DataError: a name that does not exist, or no image at all.
    """
    paths = []
    for item in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        item = Path(item)
        if item.is_dir():
            images, skipped = image_files.list_images(item, image_files.IMAGE_SUFFIXES)
            paths += images
            if ignored is not None:
                ignored += skipped
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder.")
    if not paths:
        raise DataError(f"No {'/'.join(image_files.IMAGE_SUFFIXES)} images in {inputs}.")
    return sorted(set(paths))


def check_output_apart(inputs, output) -> None:
    """Refuses a mask folder that is one of the input folders, or that holds input files (a
    shell glob such as `photos/*.jpg` with `--output photos`): its masks and overlays would be
    read as images by the next run (`x_overlay.jpg`, `x_mask_mask.png`, more each time).

    Raises:
        UsageError: `output` is (resolves to) one of the folders in `inputs`, or the folder of
            one of its files.
    """
    target = Path(output).resolve()
    for item in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        item = Path(item)
        if item.is_dir() and item.resolve() == target:
            raise UsageError(f"--output {output} is also an --input folder: the masks written "
                             "there would be read as images next time; choose another "
                             "--output folder.")
        if item.is_file() and item.resolve().parent == target:
            raise UsageError(f"--output {output} holds the input {item}: the masks and "
                             "overlays written beside it would be read as images next time; "
                             "choose another --output folder.")


def check_distinct_outputs(paths, *, masks: bool, submission: bool) -> None:
    """Raises `DataError` when two inputs would write one output: `x.jpg` and `x.png` (one
    `x_mask.png`), or `same.jpg` in two folders (one submission row and one mask)."""
    keys = []
    if masks:
        keys.append(("mask", lambda path: path.stem))
    if submission:
        keys.append(("submission row", lambda path: path.name))
    for what, key in keys:
        seen = {}
        for path in paths:
            other = seen.setdefault(key(path), path)
            if other != path:
                raise DataError(f"{other} and {path} would write the same {what}; rename one or "
                                "predict them separately.")


def _check_name(path: Path, submission: bool) -> None:
    """Refuses a file name the prediction cannot carry: bytes that are not UTF-8 (TensorFlow
    reads paths as UTF-8), or for a submission a name that cannot be a CSV row.

    Raises:
        DataError: naming the file.
    """
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"{str(path)!r}: its name is not UTF-8 text (written on a system with "
                        "another encoding); rename the file.") from None
    if submission:
        check_name(path.name)


def _failure(path) -> str:
    """Why an image cannot be predicted (header, size limit, or its pixels), or `""`."""
    try:
        image_files.inspect(path)
        image_files.decode(path)
    except DataError as error:
        return str(error)
    return ""


def predict_masks(model, paths, spec: inference.InputSpec, *, batch_size: int = 4, tta=None,
                  threshold: float = 0.5, progress: bool = True, skip_errors: bool = False):
    """Yields `(path, mask)` for each image: uint8 {0, 1} or class ids, at the native size.

    With `skip_errors`, images that fail to decode are left out (not yielded).
    """
    paths = list(paths)
    predictions = inference.predict_images(model, paths, spec, batch_size=batch_size,
                                           tta=tta, skip_errors=skip_errors)
    for path, native in tqdm(predictions, total=len(paths), desc="predicting",
                             disable=not progress):
        yield path, postprocess.labels_from_probabilities(native, spec.num_classes, threshold)


def model_identity(model_path) -> dict:
    """The model file's path and the SHA-256 of its content: what a record compares, so that a
    copy of the same model matches and a retrained one does not."""
    digest = hashlib.sha256()
    with open(model_path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(Path(model_path).absolute()), "sha256": digest.hexdigest()}


def input_stamp(path) -> str | None:
    """`"<size in bytes>:<sha256 of the first and last 64 KiB>"`: what tells a rewritten image
    from the one a row or mask was made of. Content, not modification times: a Colab session
    that copies its data back in after a disconnect gives every file a new time but the same
    bytes. Both ends, not the whole file: a 100,000-image Kaggle test set reads in seconds,
    and for a Carvana JPEG (about 80 KB) both ends are the whole of it."""
    digest = hashlib.sha256()
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as stream:
            digest.update(stream.read(STAMP_BYTES))
            if size > 2 * STAMP_BYTES:
                stream.seek(-STAMP_BYTES, os.SEEK_END)
            digest.update(stream.read(STAMP_BYTES))
    except OSError:  # unreadable: named when it is predicted, and it has no row
        return None
    return f"{size}:{digest.hexdigest()[:16]}"


def prediction_settings(model_path, spec: inference.InputSpec, tta, threshold: float,
                        paths) -> dict:
    """Everything that decides the masks and rows of a prediction, as a JSON-ready record:
    the model's content, its input spec, TTA, the threshold (one-channel models only; others
    take the argmax), and `"inputs"`, each input file with its stamp (`input_stamp`)."""
    settings = {"model": model_identity(model_path), "tta": tta or "none",
                "image_size": list(spec.image_size), "resize_mode": spec.resize_mode,
                "num_classes": spec.num_classes,
                "prediction_size": list(spec.prediction_size) if spec.prediction_size else None,
                "inputs": {str(Path(p).absolute()): input_stamp(p) for p in paths}}
    if spec.num_classes == 1:
        settings["threshold"] = threshold
    return settings


def claim_mask_folder(output, settings: dict, restart: bool = False, write: bool = True) -> None:
    """Checks that the masks already in `output` were made with `settings` (inputs aside: a
    folder gathers the masks of several inputs), and records them there (`predictions.json`).

    Args:
        output: The mask folder (created).
        settings: `prediction_settings`.
        restart: Remove the masks and overlays of other settings instead of refusing.
        write: Record (and remove); `False` only checks, writing nothing.

    Raises:
        RunConflict: masks made with other settings, or masks with no record of theirs.
    """
    output = Path(output)
    record = output / MASK_FOLDER_RECORD
    recorded = read_settings(record)
    written = sorted(output.glob("*_mask.png")) + sorted(output.glob("*_overlay.jpg"))
    if recorded is None or not written:  # nothing made with other settings: nothing to keep
        differences = [f"{len(written)} mask(s) or overlay(s) with no record of their "
                       f"settings ({record})"] if written else []
        recorded = None
    else:
        differences = settings_differences(recorded, settings)
        earlier = recorded_inputs(recorded)
        changed = sorted(path for path, stamp in settings["inputs"].items()
                         if earlier.get(path, stamp) != stamp
                         and (output / f"{Path(path).stem}_mask.png").is_file())
        if changed:
            differences.append(f"--input: {len(changed)} image(s) changed since their mask was "
                               f"written (e.g. {changed[0]})")
    inputs = settings["inputs"]
    if differences and not restart:
        raise RunConflict(f"{output} holds masks made with other settings: "
                          f"{'; '.join(differences)}. Choose another --output, or add --restart "
                          "to remove them and predict again.")
    if not write:
        return
    if differences:
        with files.writing(output):
            for path in written:
                path.unlink()
        print(f"Removed {len(written)} mask(s) and overlay(s) of other settings from {output}.")
    elif recorded is not None:
        inputs = {**recorded_inputs(recorded), **inputs}
    files.write_json(record, {**settings, "inputs": inputs})


def predict_folder(model_path, inputs, output=None, *, overlay: bool = False, tta="auto",
                   threshold: float = 0.5, submission=None, batch_size: int = 4,
                   image_size=None, prediction_size=None, progress: bool = True,
                   restart: bool = False) -> dict:
    """`python -m unet predict`: mask PNGs (and overlays) in `output`, and/or a submission.

    Args:
        model_path: A `.keras` file (its run's `config.json` gives the training size).
        inputs: A folder or image files.
        output: Folder for `<name>_mask.png` (0/255 car masks, also from a 2-class Carvana
            model, or class ids) and `<name>_overlay.jpg`.
        tta: `"flip"` to average the horizontal flip's logits in, `"none"`, or `"auto"`
            (`inference.auto_tta`: flip where the run's validation scored higher with it; the
            reason is printed with the progress).
        threshold: Probability threshold (one-channel models; 2-class ones take the argmax).
        submission: Path of a Kaggle `img,rle_mask` file (`.csv.gz`), resumable.
        image_size: The training size, when no `config.json` lies beside the model.
        prediction_size: Predict at this size instead of the training size.
        restart: Start a submission (and the mask folder) over when they hold results of
            other settings or inputs, instead of refusing.

    A bad image anywhere in the input (unreadable, damaged, over `image_files.MAX_PIXELS`) is
    named in `failed`, and every other image is still predicted; a submission then stays
    unfinished (Kaggle needs a row for every image) until the file is fixed and the command
    rerun, which predicts only what is missing. A finished submission is not redone. Both are
    one run's: the settings that decide their rows and masks (`prediction_settings`) are
    recorded, and a rerun with others is refused, naming what differs.

    Returns:
        `{"images": predicted now, "skipped": already in the submission, "submission": path of
        the finished file or None, "failed": {path: reason}, "ignored": ["path (why)", ...]}`,
        and `"complete": True` when the submission was already finished (not rewritten).

    Raises:
        DataError: no images, a missing input, or two inputs that would write one output.
        UsageError: nothing to write, or a submission from a model that is not a car mask's.
        RunConflict: a submission or mask folder holding results of other settings or inputs.
        Locked: another process writes the submission or the mask folder.
        StorageError: no space, or no permission, to write the masks or the submission.
    """
    if output is None and submission is None:
        raise UsageError("Nothing to write: give an output folder, a submission path, or both.")
    if output is not None:
        check_output_apart(inputs, output)
    ignored = []
    paths = list_inputs(inputs, ignored)
    check_distinct_outputs(paths, masks=output is not None, submission=submission is not None)
    model = checkpoints.load_model(model_path, compile=False)
    spec = inference.input_spec_for(model_path, model, image_size, prediction_size)
    if tta == "auto":
        tta, reason = inference.auto_tta(model_path)
        if progress:
            print(reason)
    tta = inference.check_tta(tta)
    if submission is not None and not spec.binary:
        raise UsageError(f"{model_path}: a Carvana submission needs a car-mask model (one "
                         f"output channel, or two trained on Carvana); this one predicts "
                         f"{spec.num_classes} classes.")
    fmt = data_mask_format(model_path, spec.num_classes)
    settings = prediction_settings(model_path, spec, tta, threshold, paths)
    if output is not None:  # checked before the submission writes anything
        claim_mask_folder(output, settings, restart, write=False)
    with contextlib.ExitStack() as held:  # the writes name their own folder when they fail
        writer = None
        if submission is not None:
            writer = held.enter_context(SubmissionWriter(submission, settings, restart=restart))
        if output is not None:
            held.enter_context(files.lock(output, "mask folder", MASK_FOLDER_RECORD))
            claim_mask_folder(output, settings, restart)
        return _predict_into(model, spec, paths, output, writer, overlay=overlay,
                             tta=tta, threshold=threshold, batch_size=batch_size,
                             progress=progress, ignored=ignored, fmt=fmt)


def data_mask_format(model_path, num_classes: int):
    """How the masks of a model's folder dataset are encoded (`folder.MaskFormat`), read from
    its run's `config.json` and data folder, for predictions in the same encoding; `None` for
    other datasets, or when the data folder is gone (a note says masks are then class ids)."""
    from unet.data import sources
    from unet.run_folder import RunFolder

    folder = RunFolder.of_model(model_path)
    if not folder.config.is_file():
        return None
    data = folder.read_config().data
    if data.dataset != "folder" or data.mask_encoding is None:
        return None
    try:
        return sources.mask_format(data, None if data.binary else num_classes)
    except DataError as error:
        print(f"note: masks are written as class ids, not in the data's encoding ({error})",
              file=sys.stderr)
        return None


def _predict_into(model, spec, paths, output, writer, *, overlay, tta, threshold,
                  batch_size, progress, ignored, fmt=None) -> dict:
    finished = None  # a submission already complete: named, not rewritten
    if writer is not None and writer.complete:
        if output is None:  # nothing to redo
            return {"images": 0, "skipped": len(paths), "submission": str(writer.path),
                    "failed": {}, "ignored": ignored, "complete": True}
        finished, writer = writer.path, None  # the masks are wanted; the submission is done
    # An image with its row (and its mask and overlay, when asked) is done: the settings
    # record guarantees every mask in the folder is this run's.
    has_row = set() if writer is None else set(writer.done)
    rowed = {p.name for p in paths} if finished is not None else has_row

    def done(path) -> bool:
        if path.name not in rowed:  # no submission: every image is predicted
            return False
        if output is None:
            return True
        wanted = [f"{path.stem}_mask.png"] + ([f"{path.stem}_overlay.jpg"] if overlay else [])
        return all((Path(output) / name).is_file() for name in wanted)

    todo = [p for p in paths if not done(p)]
    skipped = sum(p.name in has_row for p in paths)  # rows not written again
    failed = {}
    for path in todo:  # headers only: cheap, and refuses decompression bombs before decoding
        try:
            _check_name(path, submission=writer is not None)
            image_files.inspect(path)
        except DataError as error:
            failed[str(path)] = str(error)
    todo = [p for p in todo if str(p) not in failed]
    if output is not None:
        output = Path(output)
        with files.writing(output):
            output.mkdir(parents=True, exist_ok=True)
    predicted = set()
    for path, mask in predict_masks(model, todo, spec, batch_size=batch_size, tta=tta,
                                    threshold=threshold, progress=progress, skip_errors=True):
        if output is not None:
            if fmt is not None:  # the data's own encoding: 0/255, ids, its palette or colours
                folder.write_mask(output / f"{path.stem}_mask.png", mask, fmt)
            else:
                with files.atomic_path(output / f"{path.stem}_mask.png") as partial:
                    Image.fromarray(postprocess.mask_values(mask, spec.binary)).save(partial)
            if overlay:
                image = image_files.decode(path, "RGB", scan=False)
                if fmt is not None and not spec.binary:
                    picture = viz.class_overlay(image, mask, fmt.colors, fmt.names)
                else:
                    picture = viz.prediction_picture(image, mask, spec.binary)
                with files.atomic_path(output / f"{path.stem}_overlay.jpg") as partial:
                    Image.fromarray(picture).save(partial, quality=90)
        if writer is not None and path.name not in has_row:
            writer.write(path.name, carvana.rle_encode(mask))
            if (len(predicted) + 1) % batch_size == 0:
                writer.flush()  # once a batch: a kill loses at most the batch in flight
        predicted.add(path)
    for path in todo:
        if path not in predicted:
            failed[str(path)] = _failure(path) or f"{path}: could not be decoded."
    written = finished
    if writer is not None and not failed:
        written = writer.finish(expected=[p.name for p in paths])
    result = {"images": len(predicted), "skipped": skipped,
              "submission": str(written) if written else None, "failed": failed,
              "ignored": ignored}
    if finished is not None:
        result["complete"] = True
    return result
