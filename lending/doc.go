// Package lending is the financing side of the exchange, part two: a merchant's
// credit decision becomes money. The merchant consents to share its credit data
// with financial institutions it names; institutions subscribe to the decisions
// they want to lend on; each matching decision becomes an offer, pushed to the
// institution as a signed webhook and pulled through the API; the merchant applies
// and the institution's own rules decide at once; the loan is disbursed, repaid
// from the merchant's receivables as they settle (T+0), and marked overdue when
// its due time passes unpaid. Every step is filed in the same transaction as the
// change (ARCHITECTURE principle 1), and every decision records why.
//
// Lending depends on the credit and finance capabilities only through what it
// declares here: CreditView (what a credit decision tells it, handed to Publish in
// the decision's transaction), Settled (called by the order ingest in its
// transaction when receivables settle) and LiveLimits (the ad-spend loans' cap).
//
// # Who may do what
//
// A merchant (role merchant) grants and revokes its consents and applies against
// its offers; a financial institution (role financial_institution) subscribes and
// sets its rules. Each reads its own side: a merchant its consents, offers,
// applications, loans and repayments; an institution those naming it or made to
// it, and its subscriptions and portfolio. The operator and regulators read
// everything. A record the caller may not see does not exist for it
// (KindNotFound); a caller acting in none of these roles is refused
// (KindForbidden). An institution that no consent names sees nothing of the
// merchant: no offer, no notification, no filing naming it.
//
// Suspension (叫停) follows the exchange's rule (README, "The API in brief";
// api.authenticate): a suspended participant keeps reading its own records — a
// merchant its consents, offers, applications, loans and repayments, an
// institution its subscriptions, offers, applications, loans and portfolio — and
// every change it attempts is refused (KindForbidden) from the moment of
// suspension, checked again inside each write transaction. What is not its own
// stays hidden as before. The suspension also stops new business between others
// and it: no offers to or for it, its open offers withdrawn, no application to a
// suspended institution. Repayment goes on (below).
//
// Amounts are integers in minor units (fen). Credit lines are in CNY, and so is
// everything lent on them (Currency).
//
// # Consent (授權同意)
//
// A consent names its scope — any of score (the decision's score, grade, PD, line
// and reasons), features (the feature values it was computed on) and orders (the
// attested order data, served by another capability, which asks Consented) — its
// institutions (1 to 50 participant ids, each an active participant with the role
// financial_institution, not the merchant itself) and when it expires (in the
// future, at most Options.MaxConsent away: a year). A consent is in force from its
// grant until it expires or is revoked; a merchant may hold several. Revocation
// is immediate: the open offers made under the consent are withdrawn in the same
// transaction, and from then on an institution reading an offer made under a
// consent no longer in force sees its terms and status but not the merchant's
// credit data. Loans already made are contracts and stay. An institution reading a
// consent sees only itself among its institutions. Filed: lending.consent_granted
// and lending.consent_revoked, naming the merchant and each institution.
//
// # Subscriptions
//
// An institution subscribes per product (order_financing, procurement_financing,
// credit_sales, ad_spend_loan) with
//
//	criteria  grades (A–E; any when empty), min_line ≤ line ≤ max_line (CNY, both
//	          inclusive), sectors (the merchant's registry merchant_category; any
//	          when empty)
//	terms     max_amount (CNY, 1 to 10^12 fen), rate_bps (annual, 0 to 2,400: the
//	          exchange does not carry offers above 24 % a year), term_days (1 to 365),
//	          repayment_share_bps (1 to 10,000 of each settling receivable),
//	          offer_valid_days (1 to 30)
//	rules     0 to 50 decision rules (below)
//
// A subscription is active, paused (no new offers; its open offers stand until
// they expire) or cancelled (for good; its open offers are withdrawn). The
// institution, or the operator, pauses, resumes and cancels; the institution sets
// its rules (SetRules: a new rules version). Filed: lending.subscription_created,
// _paused, _resumed, _cancelled, _rules_changed — with the criteria, the terms,
// the rules version and the SHA-256 of the rules, not the rules themselves: they
// are the institution's credit policy, and the log is public.
//
// # Decision rules
//
// A rule is {id, expr, reason}: id unique in the subscription (lower-case letters,
// digits and _), expr a CEL expression (cel.dev, with the strings, sets and math
// extensions; at most 2,000 bytes) that must be of type bool, and reason the text
// given when it does not hold. Rules are compiled when they are set: one that does
// not parse, names an unknown variable or is not a bool is refused with a problem
// on its field, rules[i].expr. An application is approved when every rule holds;
// a rule that cannot be evaluated (a feature that is not in the map, the cost
// limit of 100,000 CEL units) fails, with the error recorded: a rule that cannot
// say yes says no. With no rules, every application within its offer is approved.
// The variables:
//
//	grade          string  the risk grade, "A" … "E"
//	score          int     the credit score, points
//	pd             double  the probability of default, 0 to 1
//	line           int     the credit line, minor units
//	amount         int     the amount applied for, minor units
//	currency       string  its currency, "CNY"
//	product        string  the offer's product
//	term_days      int     the term applied for
//	sector         string  the merchant's category in the registry
//	outstanding    int     what the merchant owes this institution now (principal and interest of its open loans, less what was paid)
//	overdue_loans  int     the merchant's overdue loans with this institution
//	features       map(string, double)  the feature values, when the consent's scope includes features; empty otherwise
//
// Numbers compare across int and double (pd <= 0.05, score >= 600.0). Examples:
//
//	grade in ["A", "B"]
//	amount + outstanding <= line
//	pd < 0.04 || (pd < 0.08 && amount <= 5000000)
//	overdue_loans == 0
//	!("return_rate" in features) || features["return_rate"] < 0.1
//
// # Offers (融資報價)
//
// The credit capability calls Publish with each decision, in the decision's
// transaction. For each institution named by a consent in force whose scope
// includes score — the consent granted last, if several — and each of its active
// subscriptions whose criteria the decision matches, an offer is made: one per
// institution and product (of several matching subscriptions, the largest offer;
// the oldest subscription on a tie), for
//
//	amount      = min(line, max_amount)      (no offer when 0)
//	rate, term, repayment share              the subscription's terms
//	expires_at  = min(now + offer_valid_days × 24 h, the consent's expires_at)
//
// A suspended institution is offered nothing, nor is a suspended merchant. The
// offer carries the decision (score, grade, PD, line, reasons, model, the features'
// hash) and, under scope features, the feature values. The merchant's open offers
// made on earlier decisions are superseded (lending.offer_superseded, pointing at
// the new offer to the same institution and product if there is one; the
// institution is told when none replaces it). Each offer is filed
// (lending.offer_made: the terms and the SHA-256 of the disclosed credit data,
// which is the merchant's and stays out of the public log) and sent as a
// notification lending.offer to the institution — its inbox and its webhooks,
// signed (Standard Webhooks, Ed25519) and retried by notify — and to the
// merchant's inbox. Institutions pull the same through Offers and Offer. A view
// of a decision older than the latest one offers were made on (a replay) changes
// nothing.
//
// Offers lists offers in the order of their latest change, change_seq: the
// filing of the offer's making (lending.offer_made), supersession
// (lending.offer_superseded), withdrawal (lending.offer_withdrawn) or taking
// (lending.disbursed, which names the offer). Filing seqs are gap-free and commit
// in their order, so an institution polling with the last change_seq it saw
// (after_seq) never misses a new offer or a change of one; ids would not do as a
// cursor, being random within a millisecond and assigned before commit. An offer
// is listed again with each change; expiry is read from expires_at, not filed, and
// a declined application changes nothing.
//
// An offer is open until it is taken (an approved application), superseded,
// withdrawn (its consent revoked, its subscription cancelled, the merchant or the
// institution suspended — SuspensionCascade, registered with the registry) or
// expires (read as expired once expires_at has passed). A declined application
// leaves it open.
//
// # Applications and decisions (申請 / 決策)
//
// The merchant applies against its offer for an amount (1 minor unit up to the
// offer's, in its currency) and optionally a shorter term and a purpose. In one
// write transaction: the offer is open and unexpired; the consent it was made
// under is in force; the merchant and the institution are active (KindForbidden
// otherwise); for an ad_spend_loan, when Options.LiveLimits is set, the amount is
// within the merchant's live limit (KindConflict when it has none). Then the rules
// decide, and the application is recorded with every rule's result, the reasons
// of those that failed (in the rules' order), the rules version and SHA-256, the
// inputs (the variables above, with the offer and decision ids) and their SHA-256
// over RFC 8785 canonical JSON, and filed: lending.application_decided with the
// outcome, the reasons, each rule's id and result, and the hashes. The merchant
// and the institution are notified (lending.application_decided).
//
// An optional idempotency key makes an application once-only per merchant: a
// retry with the key and the same request (offer, amount, term, purpose) answers
// with the first application and its loan, changing and filing nothing, and Apply
// says it is a replay (the API answers 200 for it, 201 for a new decision); the
// key with another request is a conflict, as is a racing twin with other details.
// The key is the merchant's: it is never filed, and an institution reads the
// application, and is notified of it, without it.
//
// # Loans, interest and disbursement (放款)
//
// On approval, in the same transaction, the offer is taken and the loan made:
//
//	principal  = the amount applied for
//	interest   = ⌊principal × rate_bps × term_days / (10,000 × 365)⌋
//	             simple interest, actual/365, rounded down to the fen; fixed at
//	             disbursement for the term (repaying early does not lower it, and no
//	             interest or penalty accrues past the due date)
//	due_at     = disbursement time + term_days × 24 h
//
// The disbursement — the institution paying the principal to the merchant — is
// recorded with the loan and filed as lending.disbursed (principal, interest,
// rate, term, share, due time). The exchange records money movements; the banks
// move the money.
//
// # Repayment from settling receivables (還款, T+0)
//
// When the merchant's receivables settle, the order ingest calls Settled with the
// money newly settled. The merchant's open loans (active and overdue) in that
// currency are served oldest due first (then by disbursement time, then id); each
// loan takes its own repayment share of the settled amount:
//
//	take = min(⌊settled × repayment_share_bps / 10,000⌋, the loan's outstanding, what is left of settled)
//
// applied to the loan's unpaid interest first, then to its principal. The sum of
// the takes never exceeds the settled amount, and rounding is always down, so the
// arithmetic never creates money: what the shares leave, and every fraction of a
// fen, stays with the merchant. Each repayment is a row and a filing
// (lending.repaid: the interest and principal parts, the settlement, the
// outstanding after), both parties told; a loan with nothing left outstanding
// closes (lending.loan_closed). Repayment goes on whatever the parties' status: a
// suspension stops new business, not the repayment of old.
//
// # Overdue (逾期)
//
// Sweep, run periodically by the exchange, marks every active loan whose due time
// has passed with something outstanding as overdue (lending.loan_overdue; both
// parties told). Later settlements still repay it, and repaid in full it closes.
// Days overdue are read, not stored: the calendar days in China from the due date
// to today, or to the day an overdue loan closed.
//
// # Portfolio
//
// Portfolio sums an institution's loans: open and closed counts, principal ever
// disbursed, outstanding, overdue (count and outstanding), and the same by grade
// (of the decision each loan was made on) and by product.
package lending
