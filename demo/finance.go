package demo

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/registry"
)

// FinanceServices are the capabilities the financing side of the demo is seeded
// through: the same services, and so the same checks and filings, as the API's.
type FinanceServices struct {
	Finance *finance.Service
	Credit  *credit.Service
	Lending *lending.Service
	// LivePolicy sets a live seller's ad-spend limit policy (投流貸); nil leaves the
	// live seller without one.
	LivePolicy func(ctx context.Context, operator dataport.Actor, merchantID string) error
}

// FinanceWorld is what SeedFinance made: per merchant, its latest credit decision.
type FinanceWorld struct {
	Decisions map[string]credit.Decision // by merchant id
}

// demoMerchant is how one demo merchant's order history is generated: its latent
// risk (credit/merchantsim's z: below 0 safer than the average merchant), the days
// of history, and the institution it lets see its score.
type demoMerchant struct {
	category string // the registry's merchant category identifies the demo merchant
	risk     float64
	age      int
	batches  int // the history arrives as this many attested batches, oldest first
	scope    []lending.Scope
	bank     string // the legal name (English) of the institution it consents to
}

var demoMerchants = []demoMerchant{
	{category: "frozen meat e-commerce", risk: -1.0, age: 150, batches: 3,
		scope: []lending.Scope{lending.ScopeScore}, bank: "Pudong Commercial Bank Co., Ltd."},
	{category: "live-stream e-commerce", risk: -0.3, age: 90, batches: 2,
		scope: []lending.Scope{lending.ScopeScore, lending.ScopeFeatures}, bank: "Yangtze Delta Inclusive Microcredit Co., Ltd."},
}

// SeedFinance gives the demo's merchants their shops and a generated order history
// (ingested as attested batches), lets each consent to one institution, gives the
// institutions standing subscriptions with decision rules, and decides each
// merchant's credit — which sends the offers. The other institution has no consent
// from a merchant and sees nothing of it. A merchant that already has shops was
// seeded before and is left as it is.
func SeedFinance(ctx context.Context, svc FinanceServices, w World, now time.Time) (FinanceWorld, error) {
	out := FinanceWorld{Decisions: map[string]credit.Decision{}}
	operator := dataport.Actor{ParticipantID: w.Operator.ID, Roles: []dataport.Role{dataport.RoleOperator}}
	banks := map[string]registry.Participant{}
	for _, p := range w.Members {
		if p.Has(dataport.RoleFinancialInstitution) {
			banks[p.LegalName.En] = p
		}
	}
	if err := seedSubscriptions(ctx, svc.Lending, banks); err != nil {
		return out, err
	}
	for i, dm := range demoMerchants {
		var merchant registry.Participant
		for _, p := range w.Members {
			if p.Has(dataport.RoleMerchant) && p.MerchantCategory == dm.category {
				merchant = p
			}
		}
		if merchant.ID == "" {
			return out, fmt.Errorf("seed finance: no demo merchant in %q", dm.category)
		}
		self := dataport.Actor{ParticipantID: merchant.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
		shops, err := svc.Finance.Shops(ctx, self, merchant.ID)
		if err != nil {
			return out, err
		}
		if len(shops) > 0 { // seeded before
			if d, err := svc.Credit.Latest(ctx, self, merchant.ID); err == nil {
				out.Decisions[merchant.ID] = d
			}
			continue
		}
		m := merchantsim.DefaultParams().WithRisk(20261126, i, dm.risk)
		m.Age = dm.age
		for _, n := range m.NewShops() {
			if _, err := svc.Finance.ConnectShop(ctx, self, merchant.ID, n); err != nil {
				return out, fmt.Errorf("seed finance: connect %s: %w", n.Name, err)
			}
		}
		orders := m.Orders(now)
		sort.SliceStable(orders, func(a, b int) bool { return orders[a].OrderedAt.Before(orders[b].OrderedAt) })
		for b := 0; b < dm.batches; b++ {
			part := orders[b*len(orders)/dm.batches : (b+1)*len(orders)/dm.batches]
			var buf bytes.Buffer
			if err := merchantsim.WriteCSV(&buf, part); err != nil {
				return out, err
			}
			rep, err := svc.Finance.IngestBatch(ctx, self, merchant.ID, "csv", &buf)
			if err != nil {
				return out, fmt.Errorf("seed finance: ingest: %w", err)
			}
			if rep.Rejected > 0 {
				return out, fmt.Errorf("seed finance: %d generated orders rejected: %+v", rep.Rejected, rep.Problems)
			}
		}
		bank, ok := banks[dm.bank]
		if !ok {
			return out, fmt.Errorf("seed finance: no demo institution %q", dm.bank)
		}
		if _, err := svc.Lending.GrantConsent(ctx, self, merchant.ID, lending.NewConsent{
			Scope: dm.scope, Institutions: []string{bank.ID}, ExpiresAt: now.AddDate(0, 6, 0)}); err != nil {
			return out, fmt.Errorf("seed finance: consent: %w", err)
		}
		if dm.category == "live-stream e-commerce" && svc.LivePolicy != nil {
			if err := svc.LivePolicy(ctx, operator, merchant.ID); err != nil {
				return out, fmt.Errorf("seed finance: live limit policy: %w", err)
			}
		}
		d, err := svc.Credit.Decide(ctx, self, merchant.ID)
		if err != nil {
			return out, fmt.Errorf("seed finance: decide: %w", err)
		}
		out.Decisions[merchant.ID] = d
	}
	return out, nil
}

// seedSubscriptions gives each demo institution its standing subscriptions, unless
// it has some already.
func seedSubscriptions(ctx context.Context, lend *lending.Service, banks map[string]registry.Participant) error {
	cny := func(yuan int64) dataport.Money { return dataport.Money{Amount: yuan * 100, Currency: "CNY"} }
	plans := map[string][]lending.NewSubscription{
		"Pudong Commercial Bank Co., Ltd.": {{
			Criteria: lending.Criteria{Product: lending.OrderFinancing, Grades: []string{"A", "B", "C"},
				MinLine: cny(10_000), MaxLine: cny(1_000_000)},
			Terms: lending.Terms{MaxAmount: cny(300_000), RateBPS: 580, TermDays: 60, RepaymentShareBPS: 5000, OfferValidDays: 7},
			Rules: []lending.Rule{
				{ID: "grade", Expr: `grade in ["A", "B", "C"]`, Reason: "risk grade below C"},
				{ID: "within_line", Expr: `amount <= line`, Reason: "amount above the merchant's credit line"},
				{ID: "no_overdue", Expr: `overdue_loans == 0`, Reason: "an overdue loan with the bank"},
			},
		}, {
			Criteria: lending.Criteria{Product: lending.CreditSales, Grades: []string{"A", "B"},
				MinLine: cny(50_000), MaxLine: cny(1_000_000)},
			Terms: lending.Terms{MaxAmount: cny(200_000), RateBPS: 450, TermDays: 30, RepaymentShareBPS: 3000, OfferValidDays: 7},
			Rules: []lending.Rule{{ID: "pd", Expr: `pd < 0.025`, Reason: "probability of default of 2.5 % or more"}},
		}},
		"Yangtze Delta Inclusive Microcredit Co., Ltd.": {{
			Criteria: lending.Criteria{Product: lending.AdSpendLoan, Grades: []string{"A", "B", "C", "D"},
				MinLine: cny(1_000), MaxLine: cny(1_000_000), Sectors: []string{"live-stream e-commerce"}},
			Terms: lending.Terms{MaxAmount: cny(100_000), RateBPS: 1200, TermDays: 14, RepaymentShareBPS: 8000, OfferValidDays: 3},
			Rules: []lending.Rule{
				{ID: "pd", Expr: `pd < 0.12`, Reason: "probability of default of 12 % or more"},
				{ID: "exposure", Expr: `outstanding + amount <= 10000000`, Reason: "more than 100,000 CNY outstanding with us"},
			},
		}, {
			Criteria: lending.Criteria{Product: lending.OrderFinancing, Grades: []string{"A", "B", "C", "D"},
				MinLine: cny(1_000), MaxLine: cny(1_000_000)},
			Terms: lending.Terms{MaxAmount: cny(50_000), RateBPS: 1500, TermDays: 30, RepaymentShareBPS: 6000, OfferValidDays: 3},
		}},
	}
	for name, subs := range plans {
		bank, ok := banks[name]
		if !ok {
			return fmt.Errorf("seed finance: no demo institution %q", name)
		}
		actor := dataport.Actor{ParticipantID: bank.ID, Roles: []dataport.Role{dataport.RoleFinancialInstitution}}
		have, err := lend.Subscriptions(ctx, actor, lending.SubscriptionFilter{})
		if err != nil {
			return err
		}
		if len(have) > 0 {
			continue
		}
		for _, n := range subs {
			if _, err := lend.CreateSubscription(ctx, actor, n); err != nil {
				return fmt.Errorf("seed finance: %s subscription: %w", name, err)
			}
		}
	}
	return nil
}
