extension T5Scorer {
    /// A scorer's tuning, in one place: its lane scorers take the same (`laneScorers`), with lanes
    /// of their own turned off.
    public struct Options: Sendable, Equatable {
        /// Upper bound on one input's instruction tokens and total candidate
        /// tokens, a guard on scratch memory. The limits are per input: a batch's
        /// scratch grows with the sum of its inputs, which the caller bounds
        /// (the inference queue's token budget per batch).
        public var maxEncoderTokens = 8192
        public var maxDecoderTokens = 65536
        /// Instruction + candidate tokens (each candidate's </s> included) in one
        /// engine pass: `run(batch:)` splits larger batches into passes of this size
        /// (an input larger than it runs alone). Bounds scratch memory per scorer.
        public var maxPassTokens = 2048
        /// Share the decoder rows of common title prefixes between candidates
        /// (see `DecoderTree`). Off: every candidate decodes all its own rows,
        /// the old packed batch. Scores agree within float rounding either way.
        public var sharesPrefixes = true
        /// Let a call of several inputs that split evenly run them as one packed
        /// batch per thread, each on a single-threaded lane (see `T5Scorer+Lanes`).
        /// Off: every call is packed passes over all threads.
        public var splitsAcrossThreads = true

        public init() {}
    }
}
