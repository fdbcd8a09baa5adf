import Foundation

/// The calibrated reduction (`Scoring.Mode.calibrated`): a candidate's summed (or mean)
/// likelihood minus α times its title prior, the same title's likelihood under the same
/// template with an empty context,
///
///     score = log P(title | instruction) − α · log P(title | template, empty context)
///
/// with the α of the request's context kind (see `Scoring`), the same for every candidate.
extension Scoring {
    /// The score a candidate ranks by, from its likelihood and (calibrated) its prior.
    public func combine(likelihood: Float, prior: Float?) -> Float {
        guard usesPrior, let prior else { return likelihood }
        return likelihood - priorWeight * prior
    }
}
