// DigitsExport: writing models in other ecosystems' formats (ONNX).
//
// Start here: `ONNXExporter` (the graph: which ONNX operator each layer becomes), then `ONNXMessages`
// (the ONNX protobuf messages and their field numbers), then `ProtobufWriter` (the wire format).

@_exported import Digits
