import T5

/// Random token ids for benchmark inputs.
enum BenchTokens {
    /// Ids the model embeds, past the special ones (pad 0, </s> 1, unk 2), at most the first 32,000: the
    /// default model's vocabulary is 8,000 words, Flan-T5's 32,128.
    static func ids(_ config: T5Config) -> Range<Int32> {
        3..<Int32(min(config.vocabSize, 32000))
    }
}
