// Trains a small model through the Swift API, saves it, loads it into a recognizer, and reads MNIST test digits
// handed over as PGM pictures, as an app would. Exits non-zero unless at least 90% are read right.
//
//     DigitsConsumer MNIST_DIR

import Digits
import Foundation

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: DigitsConsumer MNIST_DIR\n".utf8))
    exit(2)
}
do {
    let data = try MNIST.load(DataLocator.locate(explicit: CommandLine.arguments[1]).files)
    var recipe = try Recipe.named("mlp")
    recipe.options.epochs = 1
    let trainer = try Trainer(architecture: recipe.architecture, options: recipe.options)
    let history = try trainer.train(on: data.train.prefix(20_000), test: nil)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("consumer-\(getpid()).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try ModelFile(model: trainer.model, options: recipe.options, history: history).write(to: url)

    let recognizer = try DigitRecognizer(contentsOf: url)
    let count = 200
    var right = 0
    for index in 0..<count {
        let header = Array("P5 \(data.test.columns) \(data.test.rows) 255\n".utf8)
        let picture = header + Array(data.test.pixels(of: index))
        let reading = try recognizer.recognize(encoded: picture, source: "test digit \(index)")
        if reading.digit == Int(data.test.labels[index]) { right += 1 }
    }
    print("DigitsConsumer: read \(right) of \(count) MNIST test digits right through the Swift API")
    exit(right * 10 >= count * 9 ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("DigitsConsumer: \(error)\n".utf8))
    exit(1)
}
