package web

import (
	"errors"
	"html/template"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/web/chart"
)

// The merchant's dashboard: its shops and attested batches, its order data of the
// last 30 days drawn from finance's daily sums (the same sums its score is computed
// from), its receivables due, its score's history and latest decision, and what
// lending holds for it — offers, loans, repayments, consents. Every chart comes with
// its data as a table, so the page reads without JavaScript and without seeing the
// charts. The merchant sends a batch of order data from the page and asks for a
// new decision; both are filed by finance and credit as through the API.

// dashboardDays is how many days of order data the dashboard draws.
const dashboardDays = 30

// merchantPage is the merchant template's data.
type merchantPage struct {
	Shops      []finance.Shop
	Batches    []finance.Batch
	Latest     *credit.Decision
	Charts     []chartView
	Offers     []lending.Offer
	Loans      []lending.Loan
	Repayments []lending.Repayment
	Consents   []lending.Consent
	// Applications are the merchant's applications with their decisions.
	Applications []lending.Application
	// Institution names an institution as the merchant sees it (institutionNames).
	Institution func(id string) string
	Form        *Form                // the batch upload form
	Report      *finance.BatchReport // the batch just sent, shown in place
}

// chartView is a chart as a page shows it: its SVG and the same data as a table.
type chartView struct {
	ID    string
	Title string // shown over the chart, which carries it only as its SVG <title>
	SVG   template.HTML
	Table template.HTML
}

// lendingWords are the messages of lending's statuses, products and scopes and of
// finance's kinds of batch, which the templates show as
// {{t (printf "lending.status.%s" .Status)}}: listed here so that the i18n tests
// check that each exists in both languages.
var lendingWords = []string{
	"lending.status.open", "lending.status.taken", "lending.status.superseded", "lending.status.withdrawn",
	"lending.status.expired", "lending.status.active", "lending.status.overdue", "lending.status.closed",
	"lending.status.revoked", "lending.status.paused", "lending.status.cancelled", "lending.status.approved",
	"lending.status.declined",
	"lending.product.order_financing", "lending.product.procurement_financing", "lending.product.credit_sales",
	"lending.product.ad_spend_loan",
	"lending.scope.score", "lending.scope.features", "lending.scope.orders",
	"merchant.batch.kind.batch", "merchant.batch.kind.stream",
}

// batchFields binds the ingest's field problems to the upload form.
var batchFields = Fields{
	"format": {Input: "file", Message: "merchant.upload.error.format"},
	"body":   {Input: "file", Message: "merchant.upload.error.file"},
}

func (c *Console) merchant(q *Request) error {
	return c.merchantDashboard(q, http.StatusOK, NewForm(nil), nil)
}

// merchantDashboard renders the dashboard as it stands, with the upload form and
// the report of a batch just sent.
func (c *Console) merchantDashboard(q *Request, status int, form *Form, report *finance.BatchReport) error {
	ctx, me := q.Context(), q.Actor.ParticipantID
	d := merchantPage{Form: form, Report: report}
	var err error
	if d.Shops, err = c.deps.Finance.Shops(ctx, q.Actor, me); err != nil {
		return err
	}
	if d.Batches, err = c.deps.Finance.Batches(ctx, q.Actor, me, "", 10); err != nil {
		return err
	}
	daily, err := c.deps.Finance.Daily(ctx, q.Actor, me, dashboardDays, time.Time{})
	if err != nil {
		return err
	}
	history, err := c.deps.Credit.History(ctx, q.Actor, me, "", 100)
	if err != nil {
		return err
	}
	if len(history) > 0 {
		d.Latest = &history[0]
	}
	if d.Charts, err = dashboardCharts(q.Localizer, daily, history); err != nil {
		return err
	}
	if d.Offers, err = c.deps.Lending.Offers(ctx, q.Actor, lending.OfferFilter{MerchantID: me, Limit: 50}); err != nil {
		return err
	}
	if d.Loans, err = c.deps.Lending.Loans(ctx, q.Actor, lending.LoanFilter{MerchantID: me, Limit: 50}); err != nil {
		return err
	}
	if d.Repayments, err = c.deps.Lending.Repayments(ctx, q.Actor, lending.RepaymentFilter{MerchantID: me, Limit: 50}); err != nil {
		return err
	}
	if d.Consents, err = c.deps.Lending.Consents(ctx, q.Actor, lending.ConsentFilter{MerchantID: me, Limit: 50}); err != nil {
		return err
	}
	if d.Applications, err = c.deps.Lending.Applications(ctx, q.Actor, lending.ApplicationFilter{MerchantID: me, Limit: 50}); err != nil {
		return err
	}
	// The newest application first: the one just made is at the top.
	slices.Reverse(d.Applications)
	if d.Institution, _, err = c.institutionNames(q); err != nil {
		return err
	}
	return q.Render(status, "merchant", d)
}

// merchantDecide asks credit for a decision on the merchant's data as it stands;
// the dashboard it returns to shows the new score.
func (c *Console) merchantDecide(q *Request) error {
	if _, err := c.deps.Credit.Decide(q.Context(), q.Actor, q.Actor.ParticipantID); err != nil {
		return err
	}
	q.Redirect("/merchant#score")
	return nil
}

// maxUpload is the largest batch the console takes from a browser; bigger exports
// go through the API, which streams them.
const maxUpload = 64 << 20

// merchantUpload ingests a batch of order data (a CSV or JSON lines file) and shows
// the dashboard with the batch's report in place.
func (c *Console) merchantUpload(q *Request) error {
	form := NewForm(nil)
	file, header, err := q.FormFile("file")
	// The body was bounded before the CSRF check read it (Console.serve, bodyLimit),
	// with room for the form's other fields: the file's own size is checked here.
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) || (err == nil && header.Size > maxUpload) {
		if file != nil {
			file.Close()
		}
		return dataport.Errorf("web.merchantUpload", dataport.KindTooLarge,
			"a batch sent from the console is at most %d MiB: send larger ones through the API", maxUpload>>20)
	}
	if err != nil {
		form.Fail("file", q.T("merchant.upload.error.file"))
		return c.merchantDashboard(q, http.StatusUnprocessableEntity, form, nil)
	}
	defer file.Close()
	format := strings.TrimSpace(q.FormValue("format"))
	if format == "" {
		switch strings.ToLower(path.Ext(header.Filename)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson", ".json":
			format = "jsonl"
		}
	}
	form.Values.Set("format", format)
	if format != "csv" && format != "jsonl" {
		form.Fail("file", q.T("merchant.upload.error.format"))
		return c.merchantDashboard(q, http.StatusUnprocessableEntity, form, nil)
	}
	report, err := c.deps.Finance.IngestBatch(q.Context(), q.Actor, q.Actor.ParticipantID, format, file)
	if form.Absorb(err, q.Localizer, batchFields) {
		return c.merchantDashboard(q, http.StatusUnprocessableEntity, form, nil)
	} else if err != nil {
		return err
	}
	return c.merchantDashboard(q, http.StatusOK, form, &report)
}

// dashboardCharts draws the dashboard's charts from the merchant's daily sums and
// its decisions (newest first).
func dashboardCharts(l *Localizer, daily finance.Daily, history []credit.Decision) ([]chartView, error) {
	days := chart.DayAxis{From: daily.From, To: daily.To, Title: l.T("merchant.chart.day")}
	// Amounts are drawn per currency: one series each, named by it.
	var currencies []string
	seen := map[string]bool{}
	for _, s := range daily.Days {
		if !seen[s.Currency] {
			seen[s.Currency] = true
			currencies = append(currencies, s.Currency)
		}
	}
	for _, r := range daily.Receivables {
		if !seen[r.Currency] {
			seen[r.Currency] = true
			currencies = append(currencies, r.Currency)
		}
	}
	sort.Strings(currencies)
	if len(currencies) > chart.MaxSeries {
		currencies = currencies[:chart.MaxSeries]
	}
	moneyAxis := func(title string) chart.Axis {
		// One currency reads as the console's amounts do (CNY 1,500.00); several
		// are told apart by their series.
		symbol, digits := "", 2
		if len(currencies) == 1 {
			symbol = currencies[0] + " "
			if formatMoney(dataport.Money{Amount: 1, Currency: currencies[0]}) == currencies[0]+" 1" {
				digits = 0
			}
		}
		return chart.Axis{Title: l.T(title, strings.Join(currencies, ", ")), Format: chart.Money(symbol, digits),
			TickFormat: chart.MoneyWhole(symbol, digits)}
	}
	sales := make([]chart.Series, len(currencies))
	dues := make([]chart.Series, len(currencies))
	for i, cur := range currencies {
		sales[i].Name, dues[i].Name = cur, cur
		for _, s := range daily.Days {
			if s.Currency == cur {
				sales[i].Points = append(sales[i].Points, chart.Point{Day: s.Day, Value: float64(s.Sales)})
			}
		}
		for _, r := range daily.Receivables {
			if r.Currency == cur {
				dues[i].Points = append(dues[i].Points, chart.Point{Day: r.Day, Value: float64(r.Amount)})
			}
		}
	}
	// Orders, returns and complaints count across currencies, day by day.
	type counts struct{ orders, returns, complaints int64 }
	byDay := map[string]*counts{}
	var order []string
	for _, s := range daily.Days {
		n := byDay[s.Day]
		if n == nil {
			n = &counts{}
			byDay[s.Day] = n
			order = append(order, s.Day)
		}
		n.orders += s.Orders
		n.returns += s.Returns
		n.complaints += s.Complaints
	}
	orders := chart.Series{Name: l.T("merchant.chart.orders.series")}
	returns := chart.Series{Name: l.T("merchant.chart.rates.returns")}
	complaints := chart.Series{Name: l.T("merchant.chart.rates.complaints")}
	for _, day := range order {
		n := byDay[day]
		orders.Points = append(orders.Points, chart.Point{Day: day, Value: float64(n.orders)})
		if n.orders > 0 { // a rate of no orders is unknown, not zero
			returns.Points = append(returns.Points, chart.Point{Day: day, Value: float64(n.returns) / float64(n.orders)})
			complaints.Points = append(complaints.Points, chart.Point{Day: day, Value: float64(n.complaints) / float64(n.orders)})
		}
	}
	dueTo := daily.To
	if t, err := time.Parse(time.DateOnly, daily.To); err == nil {
		dueTo = t.AddDate(0, 0, finance.DueDays).Format(time.DateOnly)
	}
	// The score holds between decisions: the day's last decision is its point.
	score := chart.Series{Name: l.T("merchant.chart.score.series")}
	scoreDay := map[string]bool{}
	for i := len(history) - 1; i >= 0; i-- {
		day := formatDate(history[i].DecidedAt)
		if scoreDay[day] {
			score.Points[len(score.Points)-1].Value = float64(history[i].Score)
			continue
		}
		scoreDay[day] = true
		score.Points = append(score.Points, chart.Point{Day: day, Value: float64(history[i].Score)})
	}
	// The score's window holds the last 30 days and every decision before them.
	scoreFrom := daily.From
	if len(score.Points) > 0 && score.Points[0].Day < scoreFrom {
		scoreFrom = score.Points[0].Day
	}
	frame := func(id, key string) chart.Frame {
		return chart.Frame{ID: id, Title: l.T(key), Desc: l.T(key + ".desc"), NoData: l.T("merchant.chart.none"), Width: 560}
	}
	charts := []struct {
		id, title string
		c         chart.Chart
	}{
		{"sales", l.T("merchant.chart.sales"), &chart.TimeSeries{Frame: frame("sales", "merchant.chart.sales"), Days: days,
			Value: moneyAxis("merchant.chart.sales.axis"), Missing: chart.Zero, Series: sales}},
		{"orders", l.T("merchant.chart.orders"), &chart.TimeSeries{Frame: frame("orders", "merchant.chart.orders"), Days: days,
			Value:   chart.Axis{Title: l.T("merchant.chart.orders.axis"), Format: chart.Count, Integer: true},
			Missing: chart.Zero, Series: []chart.Series{orders}}},
		{"rates", l.T("merchant.chart.rates"), &chart.RateSeries{Frame: frame("rates", "merchant.chart.rates"), Days: days,
			Value:   chart.Axis{Title: l.T("merchant.chart.rates.axis"), Format: chart.Percent(1)},
			Missing: chart.Gap, Series: []chart.Series{returns, complaints}}},
		{"receivables", l.T("merchant.chart.receivables"), &chart.DayBars{Frame: frame("receivables", "merchant.chart.receivables"),
			Days:  chart.DayAxis{From: daily.To, To: dueTo, Title: l.T("merchant.chart.due")},
			Value: moneyAxis("merchant.chart.receivables.axis"), Missing: chart.Zero, Series: dues}},
		{"scores", l.T("merchant.chart.score"), &chart.TimeSeries{Frame: frame("scores", "merchant.chart.score"),
			Days:    chart.DayAxis{From: scoreFrom, To: daily.To, Title: l.T("merchant.chart.day")},
			Value:   chart.Axis{Title: l.T("merchant.chart.score.axis"), Format: chart.Count, Integer: true, Fit: true},
			Missing: chart.Connect, Series: []chart.Series{score}}},
	}
	out := make([]chartView, 0, len(charts))
	for _, ch := range charts {
		svg, err := chart.SVG(ch.c)
		if err != nil {
			return nil, dataport.Internal("web.dashboardCharts", err)
		}
		table, err := chart.Table(ch.c)
		if err != nil {
			return nil, dataport.Internal("web.dashboardCharts", err)
		}
		out = append(out, chartView{ID: ch.id, Title: ch.title, SVG: svg, Table: table})
	}
	return out, nil
}
