"""The light side: what the app's kernel imports (Pillow, numpy, ONNX Runtime, ipywidgets; never torch)."""
