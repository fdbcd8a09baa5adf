import Foundation

/// Element-wise kernels of the forward pass: RMSNorm, activations, softmax and
/// log-sum-exp. They run on raw row-major buffers; `exp` is a SIMD Cephes-style
/// polynomial (max relative error about 2e-7) because libm's scalar expf would
/// cost more than the GEMMs on the 32128-wide log-softmax.
enum VectorMath {
    typealias V = SIMD16<Float>

    /// Lane-wise maximum as compare + blend. The standard library's
    /// `pointwiseMax` keeps IEEE maximum semantics lane by lane and, inlined
    /// into a loop, was compiled to a scalar loop through the stack (seen in
    /// `perf annotate`: it cost more than the exponentials). Lanes where
    /// `b` is NaN keep `a`.
    @inline(__always)
    static func lanewiseMax(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .> a) }

    /// Maximum and sum across the 16 lanes by halving (the standard library's
    /// `max()`/`sum()` went lane by lane through the stack).
    @inline(__always)
    static func horizontalMax(_ a: V) -> Float {
        let h8 = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
        let h4 = h8.lowHalf.replacing(with: h8.highHalf, where: h8.highHalf .> h8.lowHalf)
        return Swift.max(Swift.max(h4[0], h4[1]), Swift.max(h4[2], h4[3]))
    }

    @inline(__always)
    static func horizontalSum(_ a: V) -> Float {
        let h8 = a.lowHalf + a.highHalf
        let h4 = h8.lowHalf + h8.highHalf
        return (h4[0] + h4[2]) + (h4[1] + h4[3])
    }

    /// e^x for 16 lanes. Inputs below -87.3 give 0 (masked scores are -inf), and so does NaN.
    @inline(__always)
    static func exp(_ input: V) -> V {
        // Clamp by compare + blend; NaN (from -inf - -inf in a fully masked
        // lane) fails `>=` and is treated like a masked score: the result is 0.
        let masked = .!(input .>= -87.3)
        let low = input.replacing(with: -87.3, where: masked)
        let x0 = low.replacing(with: 88.3, where: low .> 88.3)
        // n = round(x / ln 2) by the 1.5*2^23 trick: adding the magic number
        // leaves n in the low mantissa bits (round-to-nearest), avoiding the
        // per-lane generic float->int conversion.
        let magic: Float = 12_582_912
        let shifted = V(repeating: magic).addingProduct(x0, V(repeating: 1.442_695_040_888_963_4))
        let n = shifted - magic
        // r = x - n ln 2, with ln 2 split in two for precision (fused multiply-adds)
        var r = x0.addingProduct(n, V(repeating: -0.693_359_375))
        r = r.addingProduct(n, V(repeating: 2.121_944_400_546_905_8e-4))
        var p = V(repeating: 1.398_199_950_7e-3).addingProduct(V(repeating: 1.987_569_150_0e-4), r)
        p = V(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        // scale by 2^n through the exponent bits
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let bits = (integer &+ 127) &<< 23
        let scaled = p * unsafeBitCast(bits, to: V.self)
        return scaled.replacing(with: 0, where: masked)
    }

    /// Scalar e^x through the same polynomial, for loop tails.
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// out[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight  (T5 RMSNorm: no mean subtraction, no bias)
    static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>,
                        epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * dim
            var sum: Float = 0
            for i in 0..<dim { sum += row[i] * row[i] }
            let scale = 1 / (sum / Float(dim) + epsilon).squareRoot()
            let o = out + r * dim
            for i in 0..<dim { o[i] = weight[i] * (row[i] * scale) }
        }
    }

    /// Attention probabilities, unnormalised, in place: for each of `rows`
    /// rows of `columns` scores (rows `columns` apart), x += bias (row r uses
    /// bias[-r ..< -r + columns], when given), x = exp(x - max(x)), and
    /// inverseSums[r] = 1 / sum(x). Two passes over each row (the second from
    /// L1); the caller applies 1/sum to the much narrower P·V output.
    static func exponentiateRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                                 bias: UnsafePointer<Float>?, inverseSums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * columns
            var maxima = V(repeating: -.infinity)
            var i = 0
            if let bias {
                let b = bias - r
                while i + 16 <= columns {
                    let v = UnsafeRawPointer(row + i).loadUnaligned(as: V.self) + UnsafeRawPointer(b + i).loadUnaligned(as: V.self)
                    UnsafeMutableRawPointer(row + i).storeBytes(of: v, as: V.self)
                    maxima = lanewiseMax(maxima, v)
                    i += 16
                }
                for j in i..<columns { row[j] += b[j] }   // tail: folded into the maximum below
            } else {
                while i + 16 <= columns {
                    maxima = lanewiseMax(maxima, UnsafeRawPointer(row + i).loadUnaligned(as: V.self))
                    i += 16
                }
            }
            var maximum = horizontalMax(maxima)
            for j in i..<columns { maximum = max(maximum, row[j]) }
            let shift = V(repeating: maximum)
            var sums = V(repeating: 0)
            i = 0
            while i + 16 <= columns {
                let e = exp(UnsafeRawPointer(row + i).loadUnaligned(as: V.self) - shift)
                UnsafeMutableRawPointer(row + i).storeBytes(of: e, as: V.self)
                sums += e
                i += 16
            }
            var sum = horizontalSum(sums)
            while i < columns { row[i] = exp(row[i] - maximum); sum += row[i]; i += 1 }
            inverseSums[r] = 1 / sum
        }
    }

    @inline(__always)
    static func maxElement(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var maxima = V(repeating: -.infinity)
        var i = 0
        while i + 16 <= count {
            maxima = lanewiseMax(maxima, UnsafeRawPointer(x + i).loadUnaligned(as: V.self))
            i += 16
        }
        var maximum = horizontalMax(maxima)
        while i < count { maximum = max(maximum, x[i]); i += 1 }
        return maximum
    }

    /// Online log-sum-exp: folds `count` more values into a running
    /// (max, sum of exp(x - max)); start from (-inf, 0). The values go in
    /// blocks of 256 (1 KiB, in L1): the block's per-lane maximum first, then
    /// one rescale of the running per-lane sums (one exp per 16 vectors)
    /// when the maximum grew, then the exponentials against the new maximum.
    /// So memory is read once and the exp count grows by 1/16 at most.
    static func accumulateLogSumExp(_ x: UnsafePointer<Float>, count: Int, max runningMax: inout Float, sum runningSum: inout Float) {
        let block = 256
        var maxima = V(repeating: -.infinity), sums = V(repeating: 0)
        var i = 0
        while i + 16 <= count {
            let end = i + (min(count - i, block) & ~15)   // whole vectors, at least one
            var blockMax = maxima
            var j = i
            while j < end { blockMax = lanewiseMax(blockMax, UnsafeRawPointer(x + j).loadUnaligned(as: V.self)); j += 16 }
            if any(blockMax .> maxima) {
                // lanes still at -inf have a zero sum; keep exp(-inf - -inf) = NaN out of them
                let scale = exp(maxima - blockMax).replacing(with: 0, where: maxima .== -.infinity)
                sums *= scale
                maxima = blockMax
            }
            j = i
            while j < end { sums += exp(UnsafeRawPointer(x + j).loadUnaligned(as: V.self) - maxima); j += 16 }
            i = end
        }
        // Fold the lanes and the tail into the running pair.
        var maximum = Swift.max(runningMax, horizontalMax(maxima))
        for j in i..<count { maximum = Swift.max(maximum, x[j]) }
        guard maximum > -.infinity else { return }
        var sum: Float = runningMax > -.infinity ? runningSum * exp(runningMax - maximum) : 0
        let laneScale = exp(maxima - maximum).replacing(with: 0, where: maxima .== -.infinity)
        sum += horizontalSum(sums * laneScale)
        for j in i..<count { sum += exp(x[j] - maximum) }
        runningMax = maximum
        runningSum = sum
    }

    /// Feed-forward activation. Non-gated: in place on [rows, ff].
    /// Gated: `x` is [rows, 2*ff] (wi_0 output | wi_1 output); writes act(wi_0)*wi_1 into `out` [rows, ff].
    static func activate(_ x: UnsafeMutablePointer<Float>, rows: Int, ff: Int, activation: Activation,
                         gated: Bool, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let source = x + r * (gated ? 2 * ff : ff)
            let destination = out + r * ff
            var i = 0
            while i + 16 <= ff {
                var v = apply(activation, UnsafeRawPointer(source + i).loadUnaligned(as: V.self))
                if gated { v *= UnsafeRawPointer(source + ff + i).loadUnaligned(as: V.self) }
                UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: V.self)
                i += 16
            }
            while i < ff {
                var v = apply(activation, V(repeating: source[i]))[0]
                if gated { v *= source[ff + i] }
                destination[i] = v
                i += 1
            }
        }
    }

    @inline(__always)
    static func apply(_ activation: Activation, _ x: V) -> V {
        switch activation {
        case .relu:
            return x.replacing(with: 0, where: x .< 0)
        case .geluTanh:
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tanh(u) = 1 - 2 / (e^(2u) + 1)
            let u = 0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)
            let tanh = 1 - 2 / (exp(2 * u) + 1)
            return 0.5 * x * (1 + tanh)
        case .geluErf:
            var result = V()
            for lane in 0..<16 { result[lane] = 0.5 * x[lane] * (1 + erff(x[lane] * 0.707_106_781_186_547_6)) }
            return result
        case .silu:
            return x / (1 + exp(-x))
        }
    }
}

/// Splits `count` independent work items over `threads` threads.
enum Parallel {
    /// Whether splits go to the calling thread's `HelperTeam` (the default) or to Dispatch's pool; the
    /// benchmarks time both (`instructrec-bench engine --helpers`, through `ParallelSplits`).
    nonisolated(unsafe) static var usesHelperTeams = true

    /// Calls body(range, worker) for `threads` contiguous ranges; `worker` in
    /// 0..<threads indexes per-thread scratch.
    static func forEach(_ count: Int, threads: Int, _ body: (Range<Int>, Int) -> Void) {
        let workers = min(max(threads, 1), count)
        if workers <= 1 { body(0..<count, 0); return }
        // A chunk that splits again (on a helper) runs its split alone: helpers make no teams.
        if usesHelperTeams && HelperTeam.onHelper { body(0..<count, 0); return }
        // The chunks touch disjoint rows; the closure is only called inside
        // `run` or concurrentPerform, which return after every chunk finished.
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            let chunk: @Sendable (Int) -> Void = { w in
                let start = count * w / workers, end = count * (w + 1) / workers
                if start < end { work.value(start..<end, w) }
            }
            if usesHelperTeams {
                HelperTeam.current(helpers: workers - 1).run(chunks: workers, chunk)
            } else {
                DispatchQueue.concurrentPerform(iterations: workers, execute: chunk)
            }
        }
    }
}

/// The benchmarks' switches: the helper team or Dispatch's pool (`Parallel.usesHelperTeams`), helpers kept off
/// their caller's CPU or not.
@_spi(Benchmarks) public enum ParallelSplits {
    public static var usesHelperTeams: Bool {
        get { Parallel.usesHelperTeams }
        set { Parallel.usesHelperTeams = newValue }
    }

    /// Whether a team keeps its helpers off the caller's CPU (`HelperTeam.keepsHelpersOffCallersCPU`).
    public static var keepsHelpersOffCallersCPU: Bool {
        get { HelperTeam.keepsHelpersOffCallersCPU }
        set { HelperTeam.keepsHelpersOffCallersCPU = newValue }
    }
}

/// Carries a value across a concurrency boundary the compiler cannot check.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
