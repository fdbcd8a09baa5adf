import Dispatch
import InstructRec
import T5

/// The T5 engine behind InstructRec's `CandidateScorer`: the one place where
/// T5's types and errors become the protocol's. `T5Error` is mapped here and
/// nowhere else: bad input → `InstructRecError.scoringInput`, anything else →
/// `InstructRecError.scoringFailed`.
final class T5CandidateScorer: CandidateScorer {
    private let scorer: T5Scorer

    init(_ scorer: T5Scorer) {
        self.scorer = scorer
    }

    /// All groups in one engine call (`T5Scorer.run(batch:)`): ragged encoder batches and packed decoder
    /// batches, whatever requests the groups came from. A group's bad input fails that group alone.
    /// The call's wall time is shared out (a call may run several passes, whose own times overlap no
    /// group's alone): the encoder's part by instruction tokens, the decoder's by decoder rows.
    func score(_ groups: [ScoringGroup]) -> [Result<GroupScores, InstructRecError>] {
        let inputs = groups.map { group in
            group.readout.map { ScoringInput(instruction: group.instruction, readout: $0) }
                ?? ScoringInput(instruction: group.instruction, candidates: group.candidates)
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let results = scorer.run(batch: inputs)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let scored = results.compactMap { try? $0.get() }.filter(Self.ran)
        let instructionTokens = zip(groups, results).reduce(0) { total, pair in
            guard case let .success(result) = pair.1, Self.ran(result) else { return total }
            return total + pair.0.instruction.count
        }
        let decoderRows = scored.reduce(0) { $0 + $1.decoderRows }
        // The encoder's fraction of the engine's time, from the passes' own clocks.
        let encoderClock = scored.reduce(0.0) { $0 + $1.encodeSeconds }, decoderClock = scored.reduce(0.0) { $0 + $1.decodeSeconds }
        let encoderFraction = encoderClock + decoderClock > 0 ? encoderClock / (encoderClock + decoderClock) : 0
        return zip(groups, results).map { group, result in
            result.map { result in
                let encodeShare = instructionTokens > 0 ? Double(group.instruction.count) / Double(instructionTokens) : 0
                let decodeShare = decoderRows > 0 ? Double(result.decoderRows) / Double(decoderRows) : 0
                let scored = Self.ran(result)
                return GroupScores(tokenLogProbabilities: result.tokenLogProbabilities, logits: result.logits,
                                   encodeSeconds: scored ? wall * encoderFraction * encodeShare : 0,
                                   decodeSeconds: scored ? wall * (1 - encoderFraction) * decodeShare : 0)
            }.mapError(Self.mapped)
        }
    }

    /// Whether an input took part in an engine pass (a teacher-forced one with candidates, or a pointwise one).
    private static func ran(_ result: ScoreResult) -> Bool { !result.tokenLogProbabilities.isEmpty || !result.logits.isEmpty }

    static func mapped(_ error: T5Error) -> InstructRecError {
        if case let .invalidInput(message) = error { return .scoringInput(message) }
        return .scoringFailed(error.description)
    }
}
