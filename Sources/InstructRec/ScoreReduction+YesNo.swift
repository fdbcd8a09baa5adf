extension ScoreReduction {
    /// A yes/no readout's score: the log-odds logit(yes) − logit(no). The softmax over the two
    /// logits is σ of this difference, so ranking by it ranks by P(yes) (MonoT5's relevance)
    /// without normalising over the whole vocabulary; `relevance_score` applies σ
    /// (`PointwiseReadout.defaultRelevance`, a logistic with scale 1 and bias 0) to give P(yes) back.
    public static func yesNoLogOdds(yes: Float, no: Float) -> Float { yes - no }
}
