// DigitsImaging: decoding users' pictures and preparing them as MNIST was prepared.
//
// Reading path: GrayImage (the picture type) -> ImageDecoder (format by magic bytes, limits from the header)
// -> PNGCodec / JPEGDecoder / NetpbmDecoder -> MNISTPreprocessor (ink, crop, 20x20, centre of mass)
// -> PreparedDigit (28x28 pixels, diagnostics, ASCII art, PNG) -> NumberSegmenter (a line of digits, each prepared).
