"""`python export/saved_model.py` runs `alae-export-saved-model` (`alae_tf/commands/export_saved_model.py`):
SavedModels for TF Serving and their models.config."""

from alae_tf.commands.export_saved_model import run

if __name__ == "__main__":
    run()
