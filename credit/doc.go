// Package credit is the financing side of the exchange, part two: it turns a
// merchant's attested order data into a credit decision (授信決策) — a score
// (信用分), a risk grade (風險等級) and a credit line (授信額度) — which
// financial institutions then lend on (package lending publishes the offers).
//
// Who may: a decision is asked for by the merchant itself, acting in its
// merchant role, or by the exchange operator; decisions are read by the
// merchant, the operator and regulators. To anyone else the merchant and its
// decisions do not exist (KindNotFound). A suspended merchant gets no decision
// (KindForbidden); it, and those who oversee, still read the ones it has.
//
// # A decision
//
// Decide works in one write transaction, as of the transaction's time: it
// checks the caller and the merchant, computes the merchant's features
// (package finance, through FeatureSource) and refuses a merchant that has sent
// no attested data (KindConflict); it reads the model's inputs from the
// features, hashes them, scores them, grades the probability of default and
// works out the line; it stores the decision, files it and runs the OnDecided
// hooks. All of it commits, or none of it: a hook that fails (lending cannot
// publish the offers) leaves no decision and no filing.
//
// Every decision explains itself (ARCHITECTURE principle 2). It carries the
// model's content id and version; data_through, the filing of the merchant's
// latest attested batch, so that the exact data the features rest on can be
// named; the inputs and their hash, feature_hash = SHA-256 of the RFC 8785
// canonical JSON of {"inputs": …, "data_through": …, "model": model id}, which
// anyone recomputes from the decision (FeatureHash); the score, the PD and the
// grade; up to four reasons, the characteristics on which the merchant lost
// most points against their best attribute (scorecard reason codes); and the
// line with every term of its formula. Its filing, credit.decided, carries the
// merchant, the decision id, the model id and version, the feature hash,
// data_through and decision_sha256 (DecisionHash: the SHA-256 of the decision's
// canonical JSON). The log is public, so the score, grade, PD, line and reasons
// are committed to, not shown: the merchant says who sees them (its consent,
// in lending), and whoever is shown a decision checks it against its filing. A
// decision is never
// changed: a new one supersedes it, and Latest is the one filed last.
//
// # Inputs
//
// The model reads these characteristics of the merchant (all its shops
// together) from finance's features as of the decision; windows end on the
// decision's day (China Standard Time). Money is in CNY, in whole yuan rounded
// down; sales and receivables in other currencies are ignored for now, while
// counts and rates count orders in every currency. A ratio with a zero
// denominator is missing (null), and the scorecard scores it in a bin of its
// own. Ratios are rounded to 6 decimals, so that what is scored, hashed and
// stored is the same number everywhere.
//
//	orders_30          orders placed in 30 days, not cancelled
//	order_growth_30    (orders − previous 30 days') / previous 30 days'
//	order_growth_90    the same over 90 days
//	order_cv_90        coefficient of variation of daily orders over 90 days
//	sales_90           CNY sales over 90 days, yuan
//	sales_cv_90        coefficient of variation of daily CNY sales over 90 days
//	cancel_rate_30     cancelled / (orders + cancelled), 30 days
//	return_rate_90     returned / orders, 90 days
//	refund_rate_30     orders with a refund / orders, 30 days
//	complaint_rate_90  orders with a complaint / orders, 90 days
//	average_rating_90  mean buyer rating, 90 days
//	timeliness_30      orders shipped within 48 hours / orders shipped, 30 days
//	concentration_90   Herfindahl index of the shops' shares of CNY sales, 90 days
//	receivables_7_21   open CNY receivables due 7 to 21 days after the decision, yuan
//	active_shops_90    shops with an order in 90 days
//
// Which of them the model keeps, in which bins and for how many points is the
// model's to say (its candidates and features): selection drops the weak
// (information value below 0.02), the redundant (WoE correlation above 0.75)
// and those whose coefficient has the wrong sign.
//
// # The model
//
// The committed model (models/merchant.json, embedded; DefaultModel) is a
// scorecard — monotonic bins, weight of evidence, L2 logistic regression,
// 600 points at odds of 50:1 and 20 points to double the odds — trained by
// TrainModel on a synthetic population of merchants (package merchantsim,
// whose documentation tells the generative story: a latent risk drives the
// shops, the orders and their volatility and trend, returns, refunds,
// complaints, ratings, shipping, receivable terms and the default over 6
// months). There are no real repayment histories yet; the synthetic population
// exercises the pipeline end to end, and the model card says so. It is
// validated on a hold-out population of another seed; its metrics, data and
// limits are on its card. go generate rebuilds it, and a test checks that
// retraining from DefaultModelSpec reproduces the committed bytes. New checks
// the model against its content id (Verify) before it serves.
//
// # Master scale
//
// The probability of default (PD) over 6 months is the scorecard's, from its
// points; the grade is the band that holds it:
//
//	grade  PD
//	A      below 1 %
//	B      1 % to 2.5 %
//	C      2.5 % to 5 %
//	D      5 % to 12 %
//	E      12 % or more
//
// About 5 % of the synthetic population defaults. C holds the merchants at
// about the population's rate; each band above it halves the risk or better;
// D runs to about two and a half times the population's rate, beyond which a
// merchant (E) is not offered credit. On the committed model's hold-out the
// bands hold about 10, 30, 26, 23 and 11 % of the merchants, and the observed
// default rate rises from grade to grade (TestCommittedModelIsReproducible and
// go generate print them).
// Lower edges are included: a PD of exactly 1 % is B. The artifact's own grades
// are these bands expressed in points.
//
// # Credit line
//
// The line is lent against what the platforms will pay soon and against
// steady sales, within a cap set by the grade. With R the open CNY receivables
// due 7 to 21 days after the decision, S the CNY sales of the last 90 days and
// F their refunds, and cv the coefficient of variation of daily CNY sales over
// 90 days (all from the features; amounts in fen):
//
//	stability  = max(0, 1 − cv)                 0 when there were no sales
//	M          = ⌊(S − F) / 3 × stability⌋       stable monthly sales
//	uncapped   = ⌊α·R + β·M⌋                     α = 0.8, β = 0.5
//	line       = min(uncapped, cap(grade)), rounded down to a multiple of 100 yuan
//
// with caps of 1,000,000, 500,000, 200,000 and 50,000 yuan for grades A to D,
// and 0 for E. α is an advance rate on receivables (the platforms owe them, but
// returns and refunds still eat into them); β lends half a month of sales, less
// the more they swing from day to day. The line's basis (LineBasis) records
// every term. Options.Policy sets other values.
//
// # Listing a merchant's data
//
// With its consent, a merchant lists its own data on the exchange as a data
// product (ListData): its attested order data (kind orders) or its latest
// decision (kind credit_summary). Listing certifies that the data is the
// merchant's and was not altered, and the certified product can then be traded.
//
// Who may: the merchant itself, acting in its merchant role, active, and holding
// the supplier role too — the exchange lists data only from registered
// suppliers, and the operator grants the role (PATCH /api/v1/participants/{id}
// with the roles; a key issued before acts in the roles it was issued with, so
// the merchant lists with a key that holds the supplier role). Listing is the
// merchant's act of consent, so the operator and regulators are refused
// (KindForbidden) rather than acting for it; to anyone else the merchant does
// not exist.
//
// The request carries consent: true and the purpose, with the use scenarios,
// price plans and documents (the third-party compliance assessment report that
// submission needs, R20) that only the merchant can give. The exchange writes the
// rest of the draft's details from the data: a bilingual title and summary; the
// field dictionary of the order schema (package finance) or of CreditSummary; a
// sample; the time span of the attested orders (or the days the decision's
// features read); the coverage, the merchant's shops and platforms; the update
// frequency (realtime for a merchant that streams its orders, else irregular);
// delivery as files; source enterprise, grade general of sub-level 2, no
// personal information (the order schema names no buyer), origin the merchant's
// jurisdiction, no export; and the three rights, which are the merchant's own.
//
// The description cites the attestation, each as its filing's seq and the
// SHA-256 of its entry (the log's leaf): the finance.batch_attested filings of
// the batches — a live stream is cited by its latest chunk, whose stream_sha256
// covers every byte of the stream up to it — or the decision's credit.decided
// filing and the filing of the data it rests on. The files delivered are the
// bytes attested, so a buyer hashes each, reads the filing from the public log
// and checks its inclusion: the data is exactly what was attested. As many
// citations as fit the catalog's 2,000 characters go in the description; the
// sample of an orders product lists the newest 60 attestations (one CSV row each:
// filing, hashes, bytes, rows, orders, first and last order) and says how many
// more there are — the records themselves are delivered only under a deal, since
// a listed product's sample is shown to every member. A credit summary's sample
// is the summary itself: listing it is the merchant's consent to show it, and a
// buyer checks it against the decision_sha256 of its credit.decided filing.
//
// The merchant's consent and purpose are written into the draft's lawful basis.
// catalog.Create files product.created with the revision's details_sha256, by
// the merchant's key: that filing records the consent — who gave it, when, and
// the exact words. The draft then goes through the catalog's workflow (submit,
// review, approve); a later batch or decision is listed by revising the product.
// ListThrough wires the catalog and finance in.
package credit
