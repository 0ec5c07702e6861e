import XCTest
import DigitsTensor
import DigitsNN

/// Each update rule on one or two parameters with hand-computed values.
final class OptimizerTests: XCTestCase {
    private func parameter(_ w: [Float], gradient: [Float]) -> Parameter {
        let p = Parameter(name: "w", value: Tensor(shape: [w.count], values: w), decays: true)
        p.gradient = Tensor(shape: [gradient.count], values: gradient)
        return p
    }

    func testSGD() {
        let p = parameter([1, 2], gradient: [0.5, -1])
        SGD(learningRate: 0.1).step([p])
        XCTAssertEqual(p.value.storage[0], 0.95, accuracy: 1e-7)   // 1 − 0.1·0.5
        XCTAssertEqual(p.value.storage[1], 2.1, accuracy: 1e-6)    // 2 + 0.1·1
    }

    func testMomentumAndNesterov() {
        let p = parameter([1], gradient: [1])
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        sgd.step([p])                                   // v = 1,            w = 1 − 0.1 = 0.9
        sgd.step([p])                                   // v = 0.9 + 1 = 1.9, w = 0.9 − 0.19 = 0.71
        XCTAssertEqual(p.value.storage[0], 0.71, accuracy: 1e-6)
        let q = parameter([1], gradient: [1])
        let nesterov = SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)
        nesterov.step([q])                              // v = 1, w = 1 − 0.1(1 + 0.9) = 0.81
        nesterov.step([q])                              // v = 1.9, w = 0.81 − 0.1(1 + 1.71) = 0.539
        XCTAssertEqual(q.value.storage[0], 0.539, accuracy: 1e-6)
    }

    func testRMSprop() {
        // 9 elements so that both the SIMD body and the scalar tail run.
        let p = parameter(Array(repeating: 1, count: 9), gradient: Array(repeating: 2, count: 9))
        let opt = RMSprop(learningRate: 0.01, rho: 0.9, epsilon: 1e-7)
        opt.step([p])
        // v = 0.1·4 = 0.4;  w = 1 − 0.01·2/(√0.4 + 1e-7)
        let w1 = 1 - 0.01 * 2 / (Float(0.4).squareRoot() + 1e-7)
        for x in p.value.storage { XCTAssertEqual(x, w1, accuracy: 1e-6) }
        opt.step([p])
        // v = 0.9·0.4 + 0.1·4 = 0.76
        let w2 = w1 - 0.01 * 2 / (Float(0.76).squareRoot() + 1e-7)
        for x in p.value.storage { XCTAssertEqual(x, w2, accuracy: 1e-6) }
    }

    func testAdam() {
        let p = parameter([1], gradient: [0.5])
        let adam = Adam(learningRate: 0.1)
        adam.step([p])
        // m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25; w = 1 − 0.1·0.5/(0.5 + 1e-8) ≈ 0.9
        XCTAssertEqual(p.value.storage[0], 0.9, accuracy: 1e-6)
        p.gradient = Tensor(shape: [1], values: [-1])
        adam.step([p])
        // m = 0.045 − 0.1 = −0.055, v = 0.00024975 + 0.001 = 0.00124975
        // m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999
        let mHat = -0.055 / 0.19, vHat = 0.00124975 / (1 - 0.999 * 0.999)
        let expected = 0.9 - 0.1 * mHat / (vHat.squareRoot() + 1e-8)
        XCTAssertEqual(Double(p.value.storage[0]), expected, accuracy: 1e-5)
    }

    /// Adam works eight values at a time: every value, in the lanes and in the tail, gets the bits that the
    /// rule computed one value at a time gives.
    func testAdamVectorStepEqualsTheRuleValueByValue() {
        var rng = SeededGenerator(seed: 4)
        let n = 19
        var w = (0..<n).map { _ in rng.nextNormal() }, m = [Float](repeating: 0, count: n), v = m
        let p = Parameter(name: "w", value: Tensor(shape: [n], values: w), decays: true)
        let (eta, b1, b2, eps, decay): (Float, Float, Float, Float, Float) = (0.01, 0.9, 0.999, 1e-8, 0.05)
        let adam = Adam(learningRate: eta, beta1: b1, beta2: b2, epsilon: eps, weightDecay: decay)
        for t in 1...3 {
            let g = (0..<n).map { _ in rng.nextNormal() }
            p.gradient = Tensor(shape: [n], values: g)
            adam.step([p])
            let c1 = 1 - pow(b1, Float(t)), c2 = 1 - pow(b2, Float(t))
            for i in 0..<n {
                w[i] *= 1 - eta * decay
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                w[i] -= eta * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
            }
            XCTAssertEqual(p.value.storage, w, "step \(t)")
        }
    }

    func testAdamWDecaysWeightsButNotBiases() {
        let w = parameter([2], gradient: [0.5])
        let b = Parameter(name: "b", value: Tensor(shape: [1], values: [2]), decays: false)
        b.gradient = Tensor(shape: [1], values: [0.5])
        Adam(learningRate: 0.1, weightDecay: 0.5).step([w, b])
        // Decay first: 2·(1 − 0.1·0.5) = 1.9; then Adam's first step moves by η·m̂/(√v̂ + ε) = 0.1.
        XCTAssertEqual(w.value.storage[0], 1.8, accuracy: 1e-6)
        XCTAssertEqual(b.value.storage[0], 1.9, accuracy: 1e-6)    // no decay on a bias
        // With λ = 0 it is plain Adam.
        let p = parameter([1], gradient: [0.5]), q = parameter([1], gradient: [0.5])
        let adamW = Adam(learningRate: 0.1, weightDecay: 0), adam = Adam(learningRate: 0.1)
        for g: Float in [0.5, -1, 0.25] {
            p.gradient = Tensor(shape: [1], values: [g]); q.gradient = Tensor(shape: [1], values: [g])
            adamW.step([p]); adam.step([q])
        }
        XCTAssertEqual(p.value.storage[0], q.value.storage[0], accuracy: 1e-7)
    }

    func testAdadelta() {
        let p = parameter([1], gradient: [2])
        let opt = Adadelta(learningRate: 1, rho: 0.9, epsilon: 1e-6)
        opt.step([p])
        // s = 0.1·4 = 0.4;  Δ = √(1e-6)/√(0.4 + 1e-6)·2;  u = 0.1·Δ²;  w = 1 − Δ
        let delta1 = (1e-6 as Double).squareRoot() / (0.4 + 1e-6).squareRoot() * 2
        XCTAssertEqual(Double(p.value.storage[0]), 1 - delta1, accuracy: 1e-7)
        opt.step([p])
        // s = 0.36 + 0.4 = 0.76;  Δ = √(0.1Δ₁² + 1e-6)/√(0.76 + 1e-6)·2
        let delta2 = (0.1 * delta1 * delta1 + 1e-6).squareRoot() / (0.76 + 1e-6).squareRoot() * 2
        XCTAssertEqual(Double(p.value.storage[0]), 1 - delta1 - delta2, accuracy: 1e-7)
    }

    func testGradientClippingScalesTheJointNorm() {
        let a = parameter([0, 0], gradient: [3, 0]), b = parameter([0], gradient: [4])
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 10), 5)           // ‖(3, 0, 4)‖ = 5: unchanged
        XCTAssertEqual(a.gradient.storage, [3, 0])
        XCTAssertEqual(GradientClipping.clip([a, b], maxNorm: 1), 5)
        XCTAssertEqual(a.gradient.storage[0], 0.6, accuracy: 1e-7)              // scaled by 1/5
        XCTAssertEqual(b.gradient.storage[0], 0.8, accuracy: 1e-7)
    }

    func testWeightAverage() {
        let p = parameter([1, 2], gradient: [0, 0])
        let average = WeightAverage(of: [p], decay: 0.75)
        p.value = Tensor(shape: [2], values: [5, 6])
        average.update(step: 100)                                             // d_t = min(0.75, 101/110) = 0.75
        XCTAssertEqual(average.averages[0].storage, [2, 3])                   // 0.75·(1, 2) + 0.25·(5, 6)
        average.swap()
        XCTAssertEqual(p.value.storage, [2, 3])
        average.swap()
        XCTAssertEqual(p.value.storage, [5, 6])
        // Warm-up: the first update uses d_0 = min(0.75, 1/10) = 0.1, so the average moves most of the way.
        let q = parameter([0, 10], gradient: [0, 0])
        let early = WeightAverage(of: [q], decay: 0.75)
        q.value = Tensor(shape: [2], values: [10, 0])
        early.update(step: 0)
        XCTAssertEqual(early.averages[0].storage[0], 9, accuracy: 1e-6)       // 0.1·0 + 0.9·10
        XCTAssertEqual(early.averages[0].storage[1], 1, accuracy: 1e-6)       // 0.1·10 + 0.9·0
    }

    /// Gradient descent on a convex bowl reaches its minimum with every optimizer.
    func testEveryOptimizerMinimisesAQuadratic() {
        let optimizers: [Optimizer] = [SGD(learningRate: 0.1), SGD(learningRate: 0.05, momentum: 0.9),
                                       SGD(learningRate: 0.05, momentum: 0.9, nesterov: true),
                                       RMSprop(learningRate: 0.01), Adam(learningRate: 0.05),
                                       Adam(learningRate: 0.05, weightDecay: 0.0001), Adadelta(learningRate: 1, epsilon: 1e-3)]
        for opt in optimizers {
            let p = parameter([3, -2], gradient: [0, 0])
            for _ in 0..<500 {
                // L = ½‖w − (1, 1)‖², ∂L/∂w = w − (1, 1)
                p.gradient = Tensor(shape: [2], values: [p.value.storage[0] - 1, p.value.storage[1] - 1])
                opt.step([p])
            }
            XCTAssertEqual(p.value.storage[0], 1, accuracy: 0.02, "\(type(of: opt))")
            XCTAssertEqual(p.value.storage[1], 1, accuracy: 0.02, "\(type(of: opt))")
        }
    }
}

final class ScheduleTests: XCTestCase {
    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.constant.rate(base: 0.1, step: 50, totalSteps: 100, epoch: 3), 0.1)
        let cosine = LearningRateSchedule.cosine
        XCTAssertEqual(cosine.rate(base: 0.1, step: 0, totalSteps: 100, epoch: 1), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(base: 0.1, step: 50, totalSteps: 100, epoch: 1), 0.05, accuracy: 1e-7)   // ½(1 + cos(π/2))
        XCTAssertEqual(cosine.rate(base: 0.1, step: 100, totalSteps: 100, epoch: 1), 0, accuracy: 1e-7)
        let step = LearningRateSchedule.step(every: 2, factor: 0.5)
        XCTAssertEqual([1, 2, 3, 4, 5].map { step.rate(base: 1, step: 0, totalSteps: 1, epoch: $0) }, [1, 1, 0.5, 0.5, 0.25])
        XCTAssertEqual(LearningRateSchedule(parsing: "step:3:0.1"), .step(every: 3, factor: 0.1))
        XCTAssertEqual(LearningRateSchedule(parsing: "cosine"), .cosine)
        XCTAssertNil(LearningRateSchedule(parsing: "step:0:0.1"))
        XCTAssertNil(LearningRateSchedule(parsing: "warm"))
        XCTAssertEqual(["constant", "cosine", "step:3:0.1"].map { LearningRateSchedule(parsing: $0)?.description }, ["constant", "cosine", "step:3:0.1"])
    }
}

/// Saving and restoring optimizer state.
extension OptimizerTests {
    /// Stepping k times, saving the state, restoring it into a fresh optimizer and stepping on gives the
    /// same parameters, bit for bit, as stepping without a break.
    func testSavedStateContinuesExactly() throws {
        let makers: [(String, () -> Optimizer)] = [
            ("momentum", { SGD(learningRate: 0.05, momentum: 0.9) }),
            ("nesterov", { SGD(learningRate: 0.05, momentum: 0.9, nesterov: true) }),
            ("rmsprop", { RMSprop(learningRate: 0.01) }),
            ("adam", { Adam(learningRate: 0.01) }),
        ]
        for (name, make) in makers {
            func parameters() -> [Parameter] {
                [parameter((0..<11).map { Float($0) / 7 }, gradient: []), parameter([0.5, -0.25], gradient: [])]
            }
            func setGradients(_ ps: [Parameter], step: Int) {
                for (k, p) in ps.enumerated() {
                    p.gradient = Tensor(shape: p.value.shape, values: (0..<p.value.count).map { Float(($0 + 3 * step + k) % 5) - 2 })
                }
            }
            let straight = parameters(), unbroken = make()
            for step in 0..<5 { setGradients(straight, step: step); unbroken.step(straight) }

            let resumed = parameters(), first = make()
            for step in 0..<2 { setGradients(resumed, step: step); first.step(resumed) }
            let saved = first.state
            XCTAssertFalse(saved.buffers.isEmpty, name)
            let second = make()
            try second.restore(saved, parameters: resumed)
            XCTAssertEqual(second.state, saved, name)
            for step in 2..<5 { setGradients(resumed, step: step); second.step(resumed) }
            XCTAssertEqual(resumed.map(\.value), straight.map(\.value), name)
        }
        XCTAssertEqual(Adam().state, OptimizerState(), "no buffers before the first step")
        XCTAssertTrue(SGD(learningRate: 0.1).state.buffers.isEmpty, "plain gradient descent keeps nothing")
    }

    func testStateThatDoesNotFitIsRefused() throws {
        let p = parameter([1, 2, 3], gradient: [1, 1, 1])
        let adam = Adam()
        adam.step([p])
        XCTAssertEqual(adam.state.step, 1)
        XCTAssertThrowsError(try RMSprop().restore(adam.state, parameters: [p])) { error in
            XCTAssertTrue("\(error)".contains("mean_square"), "\(error)")
        }
        XCTAssertThrowsError(try SGD(learningRate: 0.1).restore(adam.state, parameters: [p]))
        let other = parameter([1, 2], gradient: [0, 0])
        XCTAssertThrowsError(try Adam().restore(adam.state, parameters: [other])) { error in
            XCTAssertTrue("\(error)".contains("holds 3 values"), "\(error)")
        }
        XCTAssertThrowsError(try Adam().restore(adam.state, parameters: [p, other]))
        XCTAssertNoThrow(try Adam().restore(OptimizerState(), parameters: [p]))
    }

    func testOneCycleWarmsUpThenAnneals() {
        let cycle = LearningRateSchedule.oneCycle(warmup: 0.2)
        func rate(_ t: Int) -> Float { cycle.rate(base: 1, step: t, totalSteps: 100, epoch: 1) }
        XCTAssertEqual(rate(0), 1.0 / 25, accuracy: 1e-6)
        XCTAssertEqual(rate(10), 1.0 / 25 + (1 - 1.0 / 25) * 0.5, accuracy: 1e-6)   // halfway up
        XCTAssertEqual(rate(20), 1, accuracy: 1e-6)                                  // the peak
        XCTAssertEqual(rate(60), 0.5, accuracy: 1e-6)                                // halfway down the cosine
        XCTAssertEqual(rate(100), 0, accuracy: 1e-6)
        for t in 0..<20 { XCTAssertLessThan(rate(t), rate(t + 1)) }
        for t in 20..<100 { XCTAssertGreaterThan(rate(t), rate(t + 1)) }
        XCTAssertEqual(LearningRateSchedule(parsing: "one-cycle"), .oneCycle(warmup: 0.3))
        XCTAssertEqual(LearningRateSchedule(parsing: "one-cycle:0.1"), .oneCycle(warmup: 0.1))
        XCTAssertNil(LearningRateSchedule(parsing: "one-cycle:1"))
        XCTAssertNil(LearningRateSchedule(parsing: "one-cycle:x"))
    }
}
