import Foundation

/// The calibrated reduction (`Scoring.Mode.calibrated`): a candidate's summed (or mean)
/// likelihood minus α times its title prior, the same title's likelihood under the same
/// template with an empty context,
///
///     score = log P(title | instruction) − α · log P(title | template, empty context)
///
/// with one α per request from how familiar its candidates look to the model (see `Scoring`
/// for why, and for where α, α_unfamiliar and τ come from):
///
///     m = median over the candidates of prior(t) / tokens(t)
///     α = α_familiar + (α_unfamiliar − α_familiar) · σ((τ − m) / 0.25)
extension Scoring {
    /// The α of a request whose candidates have these priors (reduced as this scoring reduces) over
    /// these numbers of scored tokens.
    public func weight(priors: [Float], tokens: [Int]) -> Float {
        guard let unfamiliar = unfamiliarPriorWeight, !priors.isEmpty else { return priorWeight }
        let perToken = zip(priors, tokens).map { reduction == .mean ? $0 : $0 / Float(max(1, $1)) }.sorted()
        let median = perToken[perToken.count / 2]
        let z = min(60, max(-60, (median - familiarityThreshold) / Self.familiaritySpread))
        return priorWeight + (unfamiliar - priorWeight) / (1 + exp(z))
    }

    /// The score a candidate ranks by, from its likelihood and (calibrated) its prior, with the request's α.
    public func combine(likelihood: Float, prior: Float?, weight: Float) -> Float {
        guard usesPrior, let prior else { return likelihood }
        return likelihood - weight * prior
    }
}
