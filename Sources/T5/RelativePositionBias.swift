import Foundation

/// T5's relative position bias: a learned scalar per (bucket, head) added to
/// the attention scores. Layer 0 of each stack owns the table
/// (`relative_attention_bias`, [num_buckets, num_heads]) and every layer of
/// that stack reuses the same bias; cross-attention has none.
enum RelativePositionBias {
    /// HF `T5Attention._relative_position_bucket`, including its float32
    /// arithmetic, so the far buckets fall exactly where PyTorch puts them.
    /// relative = key position - query position.
    static func bucket(relative: Int, bidirectional: Bool, numBuckets: Int, maxDistance: Int) -> Int {
        var buckets = numBuckets
        var result = 0
        var distance: Int
        if bidirectional {
            buckets /= 2
            if relative > 0 { result += buckets }
            distance = abs(relative)
        } else {
            distance = -min(relative, 0)
        }
        let maxExact = buckets / 2
        if distance < maxExact { return result + distance }
        // torch: log(rp.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact), then .to(long)
        let ratio = Float(distance) / Float(maxExact)
        let scaled = logf(ratio) / Float(Foundation.log(Double(maxDistance) / Double(maxExact))) * Float(buckets - maxExact)
        let large = maxExact + Int(scaled)
        return result + min(large, buckets - 1)
    }
}
