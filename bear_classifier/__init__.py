"""Bear Classifier: image search, data, training, inference and the app of fastai book chapter 2."""
