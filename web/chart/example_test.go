package chart_test

import (
	"fmt"
	"html/template"
	"os"
	"strings"

	"github.com/dataport/dataport/web/chart"
)

// A merchant dashboard's receivables chart, inlined in a page with its data
// table. The page passes every text in its own language and chooses how
// amounts read.
func Example() {
	receivables := &chart.DayBars{
		Frame: chart.Frame{
			ID:     "receivables",
			Title:  "Receivables due by day",
			Desc:   "What the platforms owe the merchant, by the day it is due.",
			NoData: "Nothing is due in the next three weeks.",
		},
		Days:    chart.DayAxis{From: "2026-04-07", To: "2026-04-09", Title: "Due"},
		Value:   chart.Axis{Title: "Amount (¥)", Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
		Missing: chart.Zero, // nothing due that day
		Series: []chart.Series{{Points: []chart.Point{
			{Day: "2026-04-07", Value: 1_250_000}, // minor units: ¥12,500.00
			{Day: "2026-04-09", Value: 310_050},
		}}},
	}
	svg, err := chart.SVG(receivables)
	if err != nil {
		panic(err)
	}
	table, err := chart.Table(receivables)
	if err != nil {
		panic(err)
	}
	page := template.Must(template.New("").Parse(
		`<figure class="chart">{{.SVG}}<details><summary>Show the numbers</summary>{{.Table}}</details></figure>`))
	var b strings.Builder
	if err := page.Execute(&b, map[string]template.HTML{"SVG": svg, "Table": table}); err != nil {
		panic(err)
	}

	// The bars' tooltips carry the exact amounts (the chart's own <title>
	// has an id, so it is not split out here), and the table the same data.
	for _, line := range strings.Split(b.String(), "<title>")[1:] {
		fmt.Println(line[:strings.Index(line, "</title>")])
	}
	os.Stdout.WriteString(string(table))
	// Output:
	// 2026-04-07: ¥12,500.00
	// 2026-04-08: ¥0.00
	// 2026-04-09: ¥3,100.50
	// <table class="chart-table chart-table-day-bars"><caption>Receivables due by day</caption>
	// <thead><tr><th scope="col">Due</th><th scope="col">Amount (¥)</th></tr></thead>
	// <tbody>
	// <tr><th scope="row">2026-04-07</th><td data-value="1250000">¥12,500.00</td></tr>
	// <tr><th scope="row">2026-04-08</th><td data-value="0">¥0.00</td></tr>
	// <tr><th scope="row">2026-04-09</th><td data-value="310050">¥3,100.50</td></tr>
	// </tbody></table>
}
