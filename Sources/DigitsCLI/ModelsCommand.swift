// `digits models`: lists the model names and their default recipes.

import ArgumentParser
import Digits

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models `digits train --model` accepts, with their layers and default recipes.")

    func run() throws {
        for name in Recipe.names {
            let r = try Recipe.named(name)
            let layers = r.architecture.layers.map(\.displayName).joined(separator: " → ")
            let o = r.options
            print("\(name)\n  layers: \(layers)\n  input: \(r.architecture.encoding.formula)\n  recipe: \(o.epochs) epochs, batch \(o.batchSize), \(o.optimizer.rawValue) lr \(o.learningRate), loss \(o.loss.rawValue)\(o.l2 > 0 ? ", L2 \(o.l2)" : "")")
        }
    }
}
