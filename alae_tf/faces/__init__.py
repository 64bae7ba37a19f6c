"""Face alignment for real photos, as the official `align_faces.py` (FFHQ recipe) does it.

- `alignment`: the official crop arithmetic, from eye centres and mouth corners to the aligned square.
- `landmarks`: dlib's face detector and 68-point predictor (weights from `face-recognition-models`),
  face selection, and landmark files for users with their own detector.
- `photos`: reading a photo (any size and mode, EXIF orientation honoured).
- `workflow`: a list of photos to aligned PNG files; `alae-align` is its command line.
"""
