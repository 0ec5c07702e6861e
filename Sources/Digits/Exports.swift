// The Digits module re-exports the layers below it, so `import Digits` is all a library user needs.

@_exported import DigitsTensor
@_exported import DigitsNN
@_exported import DigitsData
@_exported import DigitsImaging
