// DigitsImaging: decoding users' pictures and preparing them as MNIST was prepared.
