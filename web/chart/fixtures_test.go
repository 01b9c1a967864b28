package chart_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/dataport/dataport/web/chart"
)

// fixture is a chart as a dashboard would draw it, for the golden files, the
// property tests and the browser test.
type fixture struct {
	name  string
	chart chart.Chart
}

// asOf is the dashboards' "today" in the fixtures.
var asOf = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)

func day(d time.Time) string { return d.Format(time.DateOnly) }

// window returns the From and To of the n days up to and including asOf.
func window(n int) (string, string) { return day(asOf.AddDate(0, 0, 1-n)), day(asOf) }

// zhDay writes a day as Chinese pages do: 3月31日.
func zhDay(d time.Time) string { return fmt.Sprintf("%d月%d日", d.Month(), d.Day()) }

// fixtures returns the charts of the merchant's and the institution's
// dashboards, with data made by a seeded generator (the same every run).
func fixtures() []fixture {
	rng := rand.New(rand.NewPCG(11, 2026))
	from30, to := window(30)
	from90, _ := window(90)

	// Daily sales of a merchant in CNY fen, with a weekly rhythm, and four
	// days without data (the shop's export failed).
	var sales, orders chart.Series
	sales.Name, orders.Name = "Sales", "Orders"
	for i := range 30 {
		d := asOf.AddDate(0, 0, i-29)
		if i >= 11 && i <= 14 {
			continue
		}
		weekly := 1 + 0.35*math.Sin(float64(i)*2*math.Pi/7)
		n := int64(40*weekly + rng.Float64()*12)
		orders.Points = append(orders.Points, chart.Point{Day: day(d), Value: float64(n)})
		sales.Points = append(sales.Points, chart.Point{Day: day(d), Value: float64(n * (8000 + rng.Int64N(4000)))})
	}
	dailySales := &chart.TimeSeries{
		Frame: chart.Frame{Title: "Daily sales", Desc: "Sales per day over the last 30 days, in yuan; no data for 12–15 March.",
			NoData: "No sales data yet"},
		Days:   chart.DayAxis{From: from30, To: to, Title: "Day"},
		Value:  chart.Axis{Title: "Sales (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Series: []chart.Series{sales},
	}

	dailyOrders := &chart.TimeSeries{
		Frame:  chart.Frame{Title: "Daily orders", NoData: "No orders yet"},
		Days:   chart.DayAxis{From: from30, To: to, Title: "Day"},
		Value:  chart.Axis{Title: "Orders", Format: chart.Count, Integer: true},
		Series: []chart.Series{orders},
	}

	// Orders per shop: three shops, counts, missing days are no orders.
	var shops []chart.Series
	for s, name := range []string{"Tmall flagship", "JD store", "Shopee SG"} {
		ser := chart.Series{Name: name}
		for i := range 30 {
			if rng.IntN(6) == 0 {
				continue // a day without orders at this shop
			}
			ser.Points = append(ser.Points, chart.Point{Day: day(asOf.AddDate(0, 0, i-29)), Value: float64(rng.IntN(18-5*s) + 2)})
		}
		shops = append(shops, ser)
	}
	ordersByShop := &chart.TimeSeries{
		Frame:   chart.Frame{Title: "Orders by shop", NoData: "No orders yet"},
		Days:    chart.DayAxis{From: from30, To: to, Title: "Day"},
		Value:   chart.Axis{Title: "Orders", Format: chart.Count, Integer: true},
		Missing: chart.Zero,
		Series:  shops,
	}

	// A score's history: a decision now and then, the score holding between.
	score := chart.Series{Name: "Score"}
	s := 640.0
	for i := 0; i < 90; i += 6 + rng.IntN(9) {
		s += float64(rng.IntN(31) - 12)
		score.Points = append(score.Points, chart.Point{Day: day(asOf.AddDate(0, 0, i-89)), Value: s})
	}
	scoreHistory := &chart.TimeSeries{
		Frame:   chart.Frame{Title: "Credit score", Desc: "The score of each credit decision over the last 90 days.", NoData: "No decision yet"},
		Days:    chart.DayAxis{From: from90, To: to, Title: "Day of decision"},
		Value:   chart.Axis{Title: "Score", Format: chart.Number(0), Fit: true, Integer: true},
		Missing: chart.Connect,
		Series:  []chart.Series{score},
	}

	// Return and complaint rates, in Chinese: a rate is missing (null) on a
	// day without orders.
	ret, comp := chart.Series{Name: "退货率"}, chart.Series{Name: "投诉率"}
	for i := range 30 {
		if i == 20 {
			continue
		}
		d := day(asOf.AddDate(0, 0, i-29))
		ret.Points = append(ret.Points, chart.Point{Day: d, Value: 0.02 + rng.Float64()*0.05})
		comp.Points = append(comp.Points, chart.Point{Day: d, Value: rng.Float64() * 0.012})
	}
	rates := &chart.RateSeries{
		Frame: chart.Frame{Title: "退货率与投诉率", Desc: "近30天每日退货率与投诉率（按下单日计）。", NoData: "暂无数据"},
		Days: chart.DayAxis{From: from30, To: to, Title: "日期", Short: zhDay, Long: func(d time.Time) string {
			return fmt.Sprintf("%d年%d月%d日", d.Year(), d.Month(), d.Day())
		}},
		Value:  chart.Axis{Title: "比率"},
		Series: []chart.Series{ret, comp},
	}

	// Receivables due 7 to 21 days ahead, by day: none due on some days.
	var due chart.Series
	due.Name = "Receivables due"
	for i := 7; i <= 21; i++ {
		if rng.IntN(4) == 0 {
			continue
		}
		due.Points = append(due.Points, chart.Point{Day: day(asOf.AddDate(0, 0, i)), Value: float64(rng.Int64N(9_000_000) + 100_000)})
	}
	receivables := &chart.DayBars{
		Frame:   chart.Frame{Title: "Receivables due by day", Desc: "What the platforms owe, by the day it is due.", NoData: "Nothing due"},
		Days:    chart.DayAxis{From: day(asOf.AddDate(0, 0, 7)), To: day(asOf.AddDate(0, 0, 21)), Title: "Due"},
		Value:   chart.Axis{Title: "Amount (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Missing: chart.Zero,
		Series:  []chart.Series{due},
	}

	// Receivables by platform, stacked: parts of each day's whole.
	var platforms []chart.Series
	for _, name := range []string{"Tmall", "JD", "Shopee"} {
		ser := chart.Series{Name: name}
		for i := 7; i <= 21; i++ {
			ser.Points = append(ser.Points, chart.Point{Day: day(asOf.AddDate(0, 0, i)), Value: float64(rng.Int64N(300_000) * 10)})
		}
		platforms = append(platforms, ser)
	}
	receivablesStacked := &chart.DayBars{
		Frame:   chart.Frame{Title: "Receivables due by platform", NoData: "Nothing due"},
		Days:    chart.DayAxis{From: day(asOf.AddDate(0, 0, 7)), To: day(asOf.AddDate(0, 0, 21)), Title: "Due"},
		Value:   chart.Axis{Title: "Amount (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Stacked: true,
		Series:  platforms,
	}

	// Net sales after refunds: a day of refunds larger than sales goes below
	// zero.
	net := chart.Series{Name: "Net sales"}
	for i := range 14 {
		v := float64(rng.Int64N(2_000_000) - 400_000)
		net.Points = append(net.Points, chart.Point{Day: day(asOf.AddDate(0, 0, i-13)), Value: v})
	}
	netBars := &chart.DayBars{
		Frame:  chart.Frame{Title: "Net sales after refunds", NoData: "No sales"},
		Days:   chart.DayAxis{Title: "Day"},
		Value:  chart.Axis{Title: "Net (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Series: []chart.Series{net},
	}

	// An institution's portfolio by risk grade: outstanding and overdue.
	grades := []string{"A", "B", "C", "D", "E"}
	outstanding := chart.CategorySeries{Name: "Outstanding", Values: []float64{182_500_000, 241_000_000, 96_300_000, 31_000_000, 4_250_000}}
	overdue := chart.CategorySeries{Name: "Overdue", Values: []float64{0, 1_200_000, 3_400_000, 5_100_000, 2_000_000}}
	byGrade := &chart.CategoryBars{
		Frame:         chart.Frame{Title: "Portfolio by risk grade", Desc: "Outstanding and overdue amounts of open loans, by grade.", NoData: "No loans yet"},
		Categories:    grades,
		CategoryTitle: "Grade",
		Value:         chart.Axis{Title: "Amount (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Series:        []chart.CategorySeries{outstanding, overdue},
	}

	// By product, stacked current and overdue, with Chinese names long
	// enough to wrap.
	byProduct := &chart.CategoryBars{
		Frame:         chart.Frame{Title: "按产品的贷款余额", NoData: "暂无贷款"},
		Categories:    []string{"订单贷", "应收账款融资（平台回款质押）", "经营性信用贷款"},
		CategoryTitle: "产品",
		Value:         chart.Axis{Title: "余额（元）", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Stacked:       true,
		Series: []chart.CategorySeries{
			{Name: "正常", Values: []float64{120_000_000, 310_500_000, 75_000_000}},
			{Name: "逾期", Values: []float64{2_500_000, 9_000_000, 0}},
		},
	}

	// A dashboard before any data.
	empty := &chart.TimeSeries{
		Frame:  chart.Frame{Title: "Daily sales", NoData: "No sales data yet: connect a shop and upload a batch of orders."},
		Days:   chart.DayAxis{From: from30, To: to, Title: "Day"},
		Value:  chart.Axis{Title: "Sales (¥)", Format: chart.Money("¥", 2)},
		Series: []chart.Series{{Name: "Sales"}},
	}

	return []fixture{
		{"daily-sales", dailySales},
		{"daily-orders", dailyOrders},
		{"orders-by-shop", ordersByShop},
		{"score-history", scoreHistory},
		{"rates-zh", rates},
		{"receivables", receivables},
		{"receivables-stacked", receivablesStacked},
		{"net-sales-negative", netBars},
		{"portfolio-by-grade", byGrade},
		{"portfolio-by-product-zh", byProduct},
		{"no-data", empty},
	}
}
