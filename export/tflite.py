"""`python export/tflite.py` runs `alae-export-tflite` (`alae_tf/commands/export_tflite.py`): a TFLite encoder,
checked in LiteRT."""

from alae_tf.commands.export_tflite import run

if __name__ == "__main__":
    run()
