// Package scorecard builds credit scorecards from any labelled table, in the
// tradition of Siddiqi ("Credit Risk Scorecards", 2006/2017) and Anderson ("The
// Credit Scoring Toolkit", 2007):
//
//   - binning ("classing"): numeric characteristics are fine-classed into quantile
//     bins, then coarse-classed by merging neighbours until every bin holds a minimum
//     share of the rows and, with the monotonic option, the bad rate moves one way
//     only (pool-adjacent-violators); categories are grouped by bad rate with rare
//     ones pooled; missing values and declared special values keep bins of their own;
//   - weight of evidence and information value, with the sign convention
//     WoE = ln(%good / %bad), so a higher WoE means a lower risk, and
//     IV = Σ (%good − %bad) · WoE ≥ 0;
//   - selection: characteristics below an IV threshold (0.02, Siddiqi's
//     "unpredictive") are dropped, then, among WoE columns correlated above a
//     threshold, the one with the lower IV; characteristics whose coefficient comes
//     out with the wrong sign (risk rising with WoE) are dropped and the model refit;
//   - an L2-regularised logistic regression of P(bad) on the WoE columns, fitted by
//     Newton's method (IRLS) with an unpenalised intercept;
//   - points scaling: Factor = PDO / ln 2, Offset = BasePoints − Factor · ln(BaseOdds)
//     with odds = good:bad, so Score = Offset + Factor · ln(odds) and each attribute
//     earns −(β·WoE + α/n) · Factor + Offset/n points (Siddiqi, ch. 10);
//   - reason codes: the (at most four) characteristics on which an applicant lost
//     most points against the best attribute of that characteristic;
//   - validation: AUC, Gini = 2·AUC − 1, Kolmogorov–Smirnov, Brier score, a gains
//     table, calibration by grade and stratified k-fold cross-validation with bins
//     and WoE learned inside each training fold only;
//   - monitoring: the population stability index (PSI) of scores and the
//     characteristic stability index (CSI) of each characteristic between samples.
//
// A Model is an immutable artifact: its id is the SHA-256 of its canonical JSON
// (RFC 8785), and Load refuses a model whose content no longer matches its id.
package scorecard
