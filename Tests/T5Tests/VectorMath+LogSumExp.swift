import Foundation
@testable import T5

extension VectorMath {
    /// log(sum(exp(x))) over `count` values, stable, in one pass over memory: the tests' reference
    /// readout over the engine's own online accumulation.
    static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var maximum = -Float.infinity, sum: Float = 0
        accumulateLogSumExp(x, count: count, max: &maximum, sum: &sum)
        return maximum + Foundation.log(sum)
    }
}
