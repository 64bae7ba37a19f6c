r"""Edit real images with a trained ALAE: find directions in w, then edit, mix or interpolate images.

    # 1. Directions, saved with their provenance to W/directions/NAME.npz:
    alae-edit --mode=directions --workdir=W --method=linear --classes=one_vs_rest
    alae-edit --mode=directions --workdir=W --method=regression --attribute=ink_mass
    alae-edit --mode=directions --workdir=W --method=pca --k=5
    # 2. Edits of your own PNG/JPEG files (at the nets' size) or of a split's first images:
    alae-edit --mode=edit --workdir=W --directions=linear_rest_to_3 \
        --images=my_images/ --strengths=-2,-1,0,1,2 --output_dir=edits/
    # 3. Style mixing (style nets) and interpolation, A and B paired row by row:
    alae-edit --mode=mix --workdir=W --images=a/ --images_b=b/ --cutoff=4 --output_dir=mix/
    alae-edit --mode=interpolate --workdir=W --split=test --count=4 --output_dir=lerp/
    # 3b. Class transport: each image to class 7 in its own way (classes fitted on the training split):
    alae-edit --mode=transport --workdir=W --to_class=7 --images=my_images/ --strengths=0,0.5,1
    # 4. Your photo: align the face (official FFHQ recipe), edit by the official directions and rule
    #    (the sliders' coordinates, -40..40), or mix two photos with the official style ranges:
    alae-edit --workdir=W --photos=me.jpg --align \
        --official_directions=ALAE/principal_directions --directions=official:smile,official:young \
        --values=20,-10 --output_dir=me_edited/
    alae-edit --mode=mix --workdir=W --photos=a.jpg,b.jpg --align --output_dir=mixed/

A refused command (an unknown direction, layers out of range, images of another size) writes nothing.
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, data, storage, workdir
from alae_tf.checkpoint import CheckpointError
from alae_tf.editing import official, photo_edits, transport_edits, workflows

FLAGS = flags.FLAGS

flags.DEFINE_enum(
    "mode",
    "edit",
    ["directions", "edit", "transport", "mix", "interpolate"],
    "directions: find and save directions; edit: move images along them; transport: move images to another "
    "class (--to_class) by the optimal-transport map between the classes' codes; mix: style mixing (style nets); "
    "interpolate: from images A to images B in w.",
)
flags.DEFINE_string("workdir", None, "Run folder written by alae-train.", required=True)
flags.register_validator("workdir", storage.flag_validator)
# --mode=directions
flags.DEFINE_enum("method", None, list(workflows.METHODS), "How directions are found (--mode=directions).")
flags.DEFINE_string("classes", None, "class_mean / linear: 'one_vs_rest' (default) or 'A,B' (from class A to class B).")
flags.DEFINE_string(
    "attribute",
    None,
    f"regression: {' or '.join(workflows.ATTRIBUTES)} (from the images), or the name of --attribute_csv's attribute.",
)
flags.DEFINE_string("attribute_csv", None, "regression: CSV of 'filename,value' rows for a folder: dataset's files.")
flags.DEFINE_integer("k", workflows.DEFAULT_K, "pca / sefa: how many directions.", lower_bound=1)
flags.DEFINE_list("orthogonal_to", [], "Saved directions the new ones are made orthogonal to (named NAME_orth).")
flags.DEFINE_integer(
    "max_images",
    workflows.DEFAULT_MAX_IMAGES,
    "Directions and transport: encode at most this many images of the split they are fitted on.",
    lower_bound=3,
)
# --mode=edit
flags.DEFINE_list(
    "directions",
    [],
    "Saved directions to edit along (default: all in WORKDIR/directions), and/or official ones: official:NAME "
    f"({', '.join(official.OFFICIAL_NAMES)}; read from --official_directions), official:PATH/direction_N.npy or "
    "official:FOLDER.",
)
flags.DEFINE_list(
    "strengths", [f"{s:g}" for s in workflows.DEFAULT_STRENGTHS], "Strengths, one grid column each (0: reconstruction)."
)
flags.DEFINE_string(
    "layers", None, "Style nets: style inputs moved: coarse, middle, fine or START:END (default: all; sefa too)."
)
flags.DEFINE_integer(
    "refine_steps",
    0,
    "Also fit each code to its image with this many Adam steps; edits in OUT/refined/.",
    lower_bound=0,
)
# --mode=transport
flags.DEFINE_integer("to_class", None, "transport: the class the images move to.", lower_bound=0)
flags.DEFINE_integer(
    "from_class",
    None,
    "transport: the class every image moves from (default: each image's own, the class whose codes fit it best).",
    lower_bound=0,
)
# Photos and the official rule.
flags.DEFINE_list(
    "photos", [], "Your photos (files or folders; any size, RGB/RGBA/grey): edit (or --mode=mix) them end to end."
)
flags.DEFINE_bool("align", False, "--photos: find the face and align it as the official align_faces.py (FFHQ).")
flags.DEFINE_integer("face_index", 0, "--align: which detected face, counted from the largest (0).", lower_bound=0)
flags.DEFINE_string("landmarks", None, "--align: a landmarks file to use instead of detecting faces.")
flags.DEFINE_string(
    "official_directions", None, "The official repository's principal_directions/ folder (direction_N.npy)."
)
flags.DEFINE_enum(
    "edit_rule",
    None,
    list(photo_edits.RULES),
    "--photos: official (set --values or shift --shifts the coordinates, interactive_demo.py's rule) or strength "
    "(w + sum s_k d_k, --strengths one per direction). Default: official when every direction is official.",
)
flags.DEFINE_list(
    "values", [], "Official rule: the new coordinates, one per direction (the official sliders: -40..40)."
)
flags.DEFINE_list("shifts", [], "Official rule: added to each direction's coordinate, one per direction.")
flags.DEFINE_string(
    "official_layers", None, "Official rule: style inputs replaced, START:END (default 0:16, cut to the model)."
)
# Images.
flags.DEFINE_list("images", [], "Your PNG/JPEG files or folders, at the nets' size (never resized).")
flags.DEFINE_list("images_b", [], "mix / interpolate: images B (default: the split's next --count images).")
flags.DEFINE_string(
    "split",
    None,
    "Without --images: the split whose first --count images are used (default test; train for directions).",
)
flags.DEFINE_integer("count", workflows.DEFAULT_COUNT, "Without --images: images taken from --split.", lower_bound=1)
flags.DEFINE_string("dataset", None, "Another --dataset spec than the run's, cropped and resized to the nets' shape.")
flags.DEFINE_string("data_dir", None, "Overrides the dataset's default location.")
flags.DEFINE_integer("cutoff", None, "mix: style inputs taken from A (default: the coarse ones).", lower_bound=0)
flags.DEFINE_integer("steps", workflows.DEFAULT_STEPS, "interpolate: frames from A to B.", lower_bound=2)
# Output.
flags.DEFINE_string("output_dir", None, "Folder written (default WORKDIR/edits/MODE-TIME); must be new or empty.")
flags.DEFINE_bool("overwrite", False, "Replace a non-empty --output_dir.")
flags.DEFINE_bool("use_ema", True, "Use the EMA nets (as the paper does) or the trained ones.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    images = dict(split=FLAGS.split, count=FLAGS.count, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir)
    output = dict(output_dir=FLAGS.output_dir, use_ema=FLAGS.use_ema, overwrite=FLAGS.overwrite)
    try:
        run = workdir.open_run(FLAGS.workdir)
        if FLAGS.photos:
            written = _photos(run, output)
            _report(written)
            return
        if FLAGS.values or FLAGS.shifts or FLAGS.align:
            raise ValueError("--values, --shifts and --align act on --photos (give the photos, aligned or not)")
        if FLAGS.mode == "directions":
            directions = workflows.build_directions(
                run,
                FLAGS.method,
                split=FLAGS.split,
                classes=FLAGS.classes,
                attribute=FLAGS.attribute,
                attribute_csv=FLAGS.attribute_csv,
                k=FLAGS.k,
                layers=FLAGS.layers,
                orthogonal_to=FLAGS.orthogonal_to,
                max_images=FLAGS.max_images,
                dataset=FLAGS.dataset,
                data_dir=FLAGS.data_dir,
                use_ema=FLAGS.use_ema,
            )
            for direction in directions:
                print(workflows.describe_direction(run, direction))
            return
        if FLAGS.mode != "transport" and (FLAGS.to_class is not None or FLAGS.from_class is not None):
            raise ValueError("--to_class and --from_class act on --mode=transport")
        if FLAGS.mode == "transport":
            if FLAGS.to_class is None:
                raise ValueError("--mode=transport needs --to_class (the class the images move to)")
            pixels, names = workflows.select_images(run, FLAGS.images, **images)  # bad images: before the fit's work
            transport = transport_edits.fit_class_transport(
                run, max_images=FLAGS.max_images, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, use_ema=FLAGS.use_ema
            )
            written = transport_edits.apply_class_transport(
                run, pixels, names, transport, FLAGS.to_class, FLAGS.strengths, sources=FLAGS.from_class, **output
            )
            saved = transport_edits.save_run_transport(run, transport)
            written.notes.append(f"the fitted class transport: {saved} (the export bakes it into the editor)")
        elif FLAGS.mode == "edit":
            directions = _directions(run)  # fails before any image is read
            pixels, names = workflows.select_images(run, FLAGS.images, **images)
            written = workflows.apply_edits(
                run,
                pixels,
                names,
                directions,
                FLAGS.strengths,
                FLAGS.layers,
                refine_steps=FLAGS.refine_steps,
                **output,
            )
        else:
            if FLAGS.mode == "mix":
                workflows.check_style_nets(run, "--mode=mix")
            (a, names_a), (b, names_b) = workflows.select_image_pairs(run, FLAGS.images, FLAGS.images_b, **images)
            if FLAGS.mode == "mix":
                written = workflows.apply_style_mix(run, a, b, FLAGS.cutoff, names_a=names_a, names_b=names_b, **output)
            else:
                written = workflows.apply_interpolation(
                    run, a, b, FLAGS.steps, names_a=names_a, names_b=names_b, **output
                )
    except (data.DatasetError, CheckpointError, ValueError) as e:
        # ValueError: EditingError and FaceError among them (unknown direction, layers, image sizes, no face).
        sys.exit(f"alae-edit: error: {e}")
    _report(written)


def _directions(run):
    """--directions: official entries read as official directions, the others from WORKDIR/directions, in order."""
    specs = [s for s in FLAGS.directions if s.strip()]
    latent = int(run.model.dlatent_size)
    if not any(official.is_official(s) for s in specs):
        return workflows.select_directions(run, specs)
    saved = [s for s in specs if not official.is_official(s)]
    found = dict(zip(saved, workflows.select_directions(run, saved))) if saved else {}
    out = []
    for spec in specs:
        if official.is_official(spec):
            out += official.resolve_official([spec], FLAGS.official_directions, latent)
        else:
            out.append(found[spec])
    return out


def _photos(run, output):
    """--photos: align (with --align), then edit or mix, all written at once."""
    if FLAGS.mode not in ("edit", "mix"):
        raise ValueError(f"--photos works with --mode=edit or --mode=mix, not --mode={FLAGS.mode}")
    if FLAGS.mode == "mix":
        workflows.check_style_nets(run, "--mode=mix")
    else:
        directions = _directions(run)  # before any photo is read
        rule = FLAGS.edit_rule or ("official" if all(official.is_official(s) for s in FLAGS.directions) else "strength")
    photo_set = photo_edits.load_photos(
        run, FLAGS.photos, align=FLAGS.align, face_index=FLAGS.face_index, landmarks_file=FLAGS.landmarks
    )
    for record in photo_set.records:
        if record.get("faces_found", 1) > 1:
            print(
                f"{record['photo']}: {record['faces_found']} faces found; aligned face {record['face_index']} "
                "(0 is the largest; --face_index picks another)"
            )
    if FLAGS.mode == "mix":
        return photo_edits.mix_photos(run, photo_set, **output)
    strengths_given = FLAGS["strengths"].present
    return photo_edits.edit_photos(
        run,
        photo_set,
        directions,
        rule=rule,
        values=FLAGS.values or None,
        shifts=FLAGS.shifts or None,
        strengths=FLAGS.strengths if strengths_given else None,
        layers=FLAGS.official_layers if rule == "official" else FLAGS.layers,
        refine_steps=FLAGS.refine_steps,
        **output,
    )


def _report(written):
    print(f"wrote {len(written.files)} files to {written.folder}")
    for path in written.grids:
        print(f"  {path}")
    for note in written.notes:
        print(note)


def run():
    """The `alae-edit` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()
