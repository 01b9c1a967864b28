package web

import (
	"net/http"
	"slices"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/web/chart"
)

// The financial institution's page: its standing subscriptions, the offers they
// made (only to merchants whose consent names the institution: lending decides
// what it sees), the applications and their decisions, and its portfolio with
// charts by risk grade and by product, each with its table.

// institutionPage is the institution template's data.
type institutionPage struct {
	Subscriptions []lending.Subscription
	Offers        []lending.Offer
	Applications  []lending.Application
	Loans         []lending.Loan
	Portfolio     lending.Portfolio
	Charts        []chartView
	Merchant      func(id string) string // a merchant's name as the institution may see it
}

func (c *Console) institution(q *Request) error {
	ctx, me := q.Context(), q.Actor.ParticipantID
	d := institutionPage{Merchant: c.participantNames(q)}
	var err error
	if d.Subscriptions, err = c.deps.Lending.Subscriptions(ctx, q.Actor, lending.SubscriptionFilter{InstitutionID: me, Limit: 100}); err != nil {
		return err
	}
	if d.Offers, err = c.deps.Lending.Offers(ctx, q.Actor, lending.OfferFilter{InstitutionID: me, Limit: 100}); err != nil {
		return err
	}
	if d.Applications, err = c.deps.Lending.Applications(ctx, q.Actor, lending.ApplicationFilter{InstitutionID: me, Limit: 100}); err != nil {
		return err
	}
	// The newest applications and loans first: the latest are what the
	// institution looks for.
	slices.Reverse(d.Applications)
	if d.Loans, err = c.deps.Lending.Loans(ctx, q.Actor, lending.LoanFilter{InstitutionID: me, Limit: 100}); err != nil {
		return err
	}
	slices.Reverse(d.Loans)
	if d.Portfolio, err = c.deps.Lending.Portfolio(ctx, q.Actor, me); err != nil {
		return err
	}
	if d.Charts, err = portfolioCharts(q.Localizer, d.Portfolio); err != nil {
		return err
	}
	return q.Render(http.StatusOK, "institution", d)
}

// portfolioCharts draws the portfolio's outstanding and overdue amounts by risk
// grade and by product.
func portfolioCharts(l *Localizer, p lending.Portfolio) ([]chartView, error) {
	symbol, digits := p.Currency+" ", 2
	if formatMoney(dataport.Money{Amount: 1, Currency: p.Currency}) == p.Currency+" 1" {
		digits = 0
	}
	axis := chart.Axis{Title: l.T("institution.chart.axis", p.Currency), Format: chart.Money(symbol, digits),
		TickFormat: chart.MoneyWhole(symbol, digits)}
	bars := func(id, key, title string, buckets []lending.PortfolioBucket, name func(string) string) *chart.CategoryBars {
		c := &chart.CategoryBars{
			Frame:         chart.Frame{ID: id, Title: l.T(key), Desc: l.T(key + ".desc"), NoData: l.T("institution.chart.none"), Width: 560},
			CategoryTitle: l.T(title), Value: axis,
			Series: []chart.CategorySeries{{Name: l.T("institution.outstanding")}, {Name: l.T("institution.overdue")}},
		}
		for _, b := range buckets {
			c.Categories = append(c.Categories, name(b.Key))
			c.Series[0].Values = append(c.Series[0].Values, float64(b.Outstanding.Amount))
			c.Series[1].Values = append(c.Series[1].Values, float64(b.Overdue.Amount))
		}
		return c
	}
	product := func(key string) string { return l.T("lending.product." + key) }
	grade := func(key string) string { return key }
	var out []chartView
	for _, c := range []*chart.CategoryBars{
		bars("by-grade", "institution.chart.grade", "institution.grade", p.ByGrade, grade),
		bars("by-product", "institution.chart.product", "institution.product", p.ByProduct, product),
	} {
		svg, err := chart.SVG(c)
		if err != nil {
			return nil, dataport.Internal("web.portfolioCharts", err)
		}
		table, err := chart.Table(c)
		if err != nil {
			return nil, dataport.Internal("web.portfolioCharts", err)
		}
		out = append(out, chartView{ID: c.ID, Title: c.Title, SVG: svg, Table: table})
	}
	return out, nil
}
