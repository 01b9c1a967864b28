// Package chart draws the console's charts as server-side SVG that reads
// without JavaScript: the merchant's dashboard (daily sales and orders, return
// and complaint rates, receivables due by day, score history) and a financial
// institution's portfolio.
//
// # Kinds
//
//   - TimeSeries: one or more series over days, as lines with a marker on each
//     value (daily sales; a score's history, with Missing: Connect and a Fit
//     axis).
//   - RateSeries: a TimeSeries of fractions on a percent axis from zero
//     (return and complaint rates).
//   - DayBars: bars by day, side by side or stacked (receivables due by day).
//   - CategoryBars: bars by category, running across, grouped or stacked (a
//     portfolio's outstanding and overdue by risk grade or by product).
//
// Each chart embeds a Frame: its title and description in the page's language
// (the SVG's <title> and <desc>, which screen readers announce, with
// role="img"), and the text shown when there is no data. Every number is
// written by a Format the page chooses — Money from minor units, Count,
// Percent, Number — so the charts show amounts as the rest of the page does.
// Days are the exchange's YYYY-MM-DD days; a day without a point is a gap, a
// zero or bridged by the line, as Missing says.
//
// # Using it in a page
//
// A handler builds the chart from what a capability's service returned and
// hands the template the SVG and, if it likes, the same data as a table:
//
//	sales := &chart.TimeSeries{
//		Frame:  chart.Frame{Title: t("dashboard.sales"), Desc: t("dashboard.sales_desc"), NoData: t("dashboard.no_data")},
//		Days:   chart.DayAxis{From: from, To: today, Title: t("day"), Short: shortDay},
//		Value:  chart.Axis{Title: t("sales_cny"), Format: chart.Money("¥", 2), TickFormat: chart.MoneyWhole("¥", 2)},
//		Series: []chart.Series{{Name: t("sales"), Points: points}},
//	}
//	data.SalesChart, err = chart.SVG(sales)   // template.HTML
//	data.SalesTable, err = chart.Table(sales) // template.HTML
//
// and the template inlines them:
//
//	<figure class="chart">{{.SalesChart}}
//	  <details><summary>{{t "show_data"}}</summary>{{.SalesTable}}</details>
//	</figure>
//
// An invalid chart (no title, a NaN, a day given twice, too many series) is a
// bug in the page: SVG and Table return a dataport.Error of KindInvalid naming
// the field, and write nothing.
//
// # What the SVG is
//
//   - Standalone: the root <svg> has its namespace, so the same bytes serve as
//     an image/svg+xml file; it is well-formed XML, and the same for every
//     render of the same chart.
//   - Scalable: a viewBox and width="100%", so it takes its container's width
//     and keeps its proportions. Text is 13 units in a 400-unit-wide chart,
//     sized for a phone; pages with room give a larger Frame.Width or cap the
//     chart's width in CSS (.chart svg { max-width: 40rem }).
//   - Self-contained: no scripts, no links, no <foreignObject>, no fonts (only
//     the system's sans-serif), no style attributes or <style> elements — only
//     presentation attributes, which a Content-Security-Policy without
//     'unsafe-inline' allows — and fill patterns referenced within the SVG,
//     under ids prefixed by Frame.ID (or derived from the content) so that
//     several charts share a page.
//   - Accessible: every marker and bar has a <title> tooltip with its exact
//     value; series differ by colour (a palette with 3:1 contrast on the
//     chart's own white ground) and also by dash and marker shape (lines) or
//     fill pattern (bars), so they tell apart without colour and in print.
//   - Safe: every text a page passes is escaped, and characters XML does not
//     allow are replaced.
//
// Classes name the parts for the page's stylesheet and tests: chart,
// chart-lines / chart-day-bars / chart-categories on the root, legend, axis,
// series series-N, mark (a value's marker or bar), line, zero, plot (the
// invisible rectangle of the plot area), no-data; the table is
// chart-table, with class="missing" on days without a value.
package chart
