// Package financing joins the exchange's financing capabilities (融资): finance
// (merchants' attested order data), credit (decisions on it) and lending (offers,
// loans, repayment). Lending declares what it needs of the others through narrow
// interfaces and imports neither; this package is where a decision becomes offers
// and settled receivables repayments, for serve and for the tests that run the same
// world.
package financing

import (
	"fmt"

	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/store"
)

// Wire joins the financing side's capabilities, each of which declares
// what it needs of the others (ARCHITECTURE: narrow interfaces):
//
//   - every credit decision publishes offers to the institutions whose
//     subscriptions it meets, in the decision's own transaction: a decision is
//     never filed without its offers, nor an offer without its decision;
//   - every applied batch or stream chunk that settles receivables repays the
//     merchant's open loans from the settled money in the same transaction (T+0);
//     receivables that arrive already settled (old history) repay nothing, as no
//     loan financed them.
//
// Ad-spend loans are capped by the live limit through lending.Options.LiveLimits,
// set where the lending service is made.
func Wire(fin *finance.Service, cred *credit.Service, lend *lending.Service) {
	cred.OnDecided(func(tx *store.Tx, d credit.Decision) error {
		return lend.Publish(tx, CreditView(d))
	})
	fin.OnApplied(func(tx *store.Tx, a finance.Applied) error {
		for _, c := range a.Currencies {
			if c.SettledAmount <= 0 {
				continue
			}
			if err := lend.Settled(tx, a.MerchantID, c.Currency, c.SettledAmount, a.At); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreditView is what lending is told of a decision. Reasons read as the
// characteristic and the attribute it fell in; features are the decision's
// numeric inputs (missing ones are left out, so a rule reading one fails as a
// rule over a missing feature, never as zero).
func CreditView(d credit.Decision) lending.CreditView {
	v := lending.CreditView{
		DecisionID: d.ID, MerchantID: d.MerchantID, DecidedAt: d.DecidedAt,
		ModelID: d.Model.ID, FeatureHash: d.FeatureHash, Score: int(d.Score), PD: d.PD,
		Grade: string(d.Grade), Line: d.Line, FilingSeq: d.FilingSeq,
		Features: map[string]float64{},
	}
	for _, r := range d.Reasons {
		v.Reasons = append(v.Reasons, fmt.Sprintf("%s: %s (−%.0f points)", r.Characteristic, r.Bin, r.PointsLost))
	}
	for name, x := range d.Inputs {
		switch n := x.(type) {
		case float64:
			v.Features[name] = n
		case int64:
			v.Features[name] = float64(n)
		case int:
			v.Features[name] = float64(n)
		}
	}
	return v
}
